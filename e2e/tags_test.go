package e2e

import (
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// onlyReads fails t unless every request p saw since its reset read.
func onlyReads(t *testing.T, p *proxy.Proxy, what string) {
	t.Helper()
	for _, q := range p.Requests() {
		if q.Method != "GET" && q.Method != "HEAD" {
			t.Errorf("%s wrote: %s", what, q)
		}
	}
}

// holds fails t unless each repo:tag of reg holds digest.
func holds(t *testing.T, reg *harness.Registry, digest string, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		repo, tag, _ := strings.Cut(ref, ":")
		if got := reg.MustGetManifest(t, repo, tag).Digest; got != digest {
			t.Errorf("%s holds %s, want %s", ref, got, digest)
		}
	}
}

// TestTagFlag: -t on push, copy, merge and create --push writes every tag
// (the destination's repository and another of its registry) in the one
// plan: the dry run writes nothing and predicts the run's requests
// exactly, the tags then hold the written digest, and a tag that moves is
// named in the summary.
func TestTagFlag(t *testing.T) {
	e := newEnv(t)

	t.Run("push", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		repo, other := testRepo(t, "app"), testRepo(t, "release")
		imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, copyPlatforms...)
		old := reg.PushList(t, repo, "latest", imgs[:1], harness.ListOptions{})
		list := p.Host + "/" + repo + ":v1"
		args := []string{"create", list}
		for _, img := range imgs {
			args = append(args, p.Host+"/"+repo+":"+img.Tag)
		}
		e.mustMlist(t, args...)
		p.Reset()
		e.mustMlist(t, "push", "--dry-run", "-t", "latest", "-t", p.Host+"/"+other+":v1", list)
		onlyReads(t, p, "push --dry-run")
		plan, r := dryThenRun(t, e, []*proxy.Proxy{p}, "push", "-t", "latest", "-t", "v1", "-t", p.Host+"/"+other+":v1", list)
		if len(plan.Tags) != 3 {
			t.Errorf("plan tags %+v, want v1, latest and %s:v1", plan.Tags, other)
		}
		holds(t, reg, plan.Digest, repo+":v1", repo+":latest", other+":v1")
		if want := movedLine(p.Host+"/"+repo+":latest", old.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
	})

	t.Run("copy", func(t *testing.T) {
		src, dst := plainRegistry(t), copyDestRegistry(t)
		sp, dp := startCountingProxy(t, src, 0), startCountingProxy(t, dst, 0)
		srcRepo, dstRepo, other := testRepo(t, "src"), testRepo(t, "dst"), testRepo(t, "other")
		pushCrossCopySource(t, src, srcRepo)
		old := dst.PushList(t, dstRepo, "stable", dst.PushImages(t, dstRepo, "old", harness.ImageOptions{}, "linux/amd64"), harness.ListOptions{})
		from, to := sp.Host+"/"+srcRepo+":v1", dp.Host+"/"+dstRepo+":v1"
		sp.Reset()
		dp.Reset()
		e.mustMlist(t, "copy", "--dry-run", "-t", "stable", "-t", dp.Host+"/"+other+":v1", from, to)
		onlyReads(t, dp, "copy --dry-run")
		plan, r := dryThenRun(t, e, []*proxy.Proxy{sp, dp}, "copy", "-t", "stable", "-t", dp.Host+"/"+other+":v1", from, to)
		holds(t, dst, plan.Digest, dstRepo+":v1", dstRepo+":stable", other+":v1")
		if want := movedLine(dp.Host+"/"+dstRepo+":stable", old.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
		// Again: every tag holds it; the copy only reads.
		plan, _ = dryThenRun(t, e, []*proxy.Proxy{sp, dp}, "copy", "-t", "stable", "-t", dp.Host+"/"+other+":v1", from, to)
		onlyReads(t, dp, "the copy again")
		if !plan.Unchanged {
			t.Errorf("the copy again is not unchanged: %+v", plan)
		}
	})

	t.Run("merge", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		f := pushMergeFixture(t, reg, reg, testRepo(t, "app"), testRepo(t, "ci"), harness.ListOptions{})
		other := testRepo(t, "release")
		dst := p.Host + "/" + f.dstRepo + ":" + f.dstTag
		p.Reset()
		e.mustMlist(t, "merge", "--dry-run", "-t", "latest", "-t", p.Host+"/"+other+":v1", p.Host+"/"+f.srcRepo+":"+f.srcTag, dst)
		onlyReads(t, p, "merge --dry-run")
		plan, r := dryThenRun(t, e, []*proxy.Proxy{p}, "merge", "-t", "latest", "-t", p.Host+"/"+other+":v1", p.Host+"/"+f.srcRepo+":"+f.srcTag, dst)
		holds(t, reg, plan.Digest, f.dstRepo+":"+f.dstTag, f.dstRepo+":latest", other+":v1")
		if want := movedLine(dst, f.dst.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
	})

	t.Run("create --push", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		repo, other := testRepo(t, "app"), testRepo(t, "release")
		imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, copyPlatforms...)
		sources := func(list string) []string {
			args := []string{list}
			for _, img := range imgs {
				args = append(args, p.Host+"/"+repo+":"+img.Tag)
			}
			return args
		}
		// What create, then push, writes.
		twoStep := p.Host + "/" + repo + ":two"
		e.mustMlist(t, append([]string{"create"}, sources(twoStep)...)...)
		want := strings.TrimSpace(e.mustMlist(t, "push", "--purge", twoStep))
		list := p.Host + "/" + repo + ":v1"
		args := append([]string{"create", "--push", "-t", "latest", "-t", p.Host + "/" + other + ":v1"}, sources(list)...)
		p.Reset()
		e.mustMlist(t, append([]string{"create", "--push", "--dry-run", "-t", "latest"}, sources(list)...)...)
		onlyReads(t, p, "create --push --dry-run")
		plan, _ := dryThenRun(t, e, []*proxy.Proxy{p}, args...)
		if plan.Digest != want {
			t.Errorf("create --push wrote %s, create and push %s", plan.Digest, want)
		}
		holds(t, reg, want, repo+":v1", repo+":latest", other+":v1")
		if ls := e.mustMlist(t, "ls"); strings.Contains(ls, repo) {
			t.Errorf("create --push left a draft:\n%s", ls)
		}
	})
}

// TestTagFlagRefused: a bad -t is refused with one line naming it, before
// anything is read or written.
func TestTagFlagRefused(t *testing.T) {
	e := newEnv(t)
	reg := plainRegistry(t)
	p := startCountingProxy(t, reg, 0)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, "linux/amd64")
	img := p.Host + "/" + repo + ":" + imgs[0].Tag
	list := p.Host + "/" + repo + ":v1"
	reg.PushList(t, repo, "v1", imgs, harness.ListOptions{})
	tests := []struct {
		args []string
		bad  string
	}{
		{[]string{"copy", "-t", ".hidden", list, p.Host + "/" + repo + ":v2"}, ".hidden"},
		{[]string{"copy", "-t", "other.test/x:1", list, p.Host + "/" + repo + ":v2"}, "other.test/x:1"},
		{[]string{"merge", "-t", p.Host + "/" + repo + "@sha256:" + strings.Repeat("a", 64), list, list}, "@sha256:"},
		{[]string{"create", "--push", "-t", "a b", list, img}, "a b"},
		{[]string{"create", "-t", "latest", p.Host + "/" + repo + ":draft", img}, "--tag goes with --push"},
		{[]string{"copy", "-t", "latest", list, "oci:" + t.TempDir()}, "latest"},
	}
	for _, tc := range tests {
		p.Reset()
		r := e.mlist(tc.args...)
		msg := strings.TrimSpace(r.Stderr)
		if r.ExitCode == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tc.bad) {
			t.Errorf("%q: exit %d, want one line naming %q:\n%s", tc.args, r.ExitCode, tc.bad, r.Stderr)
		}
		if n := p.Count(); n != 0 {
			t.Errorf("%q: %d requests before the refusal:\n%s", tc.args, n, p.Requests())
		}
	}
}
