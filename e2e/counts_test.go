package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// README's request counts. They are exact: a count that grows fails
// TestRequestCounts; the benchmarks time the same runs (with 20 ms per
// request) and report the counts beside the times.
const (
	// sameRepoPushRequests: create+push of a 4-platform list whose images
	// are in the list's repository (the push reads its tag: the plan names
	// the digest the tag moves from, and a tag that holds the list already
	// is not written).
	sameRepoPushRequests = 10
	// createPushOneStepRequests: the same list made and pushed by one
	// `create --push`.
	createPushOneStepRequests = 10
	// widePushRequests: the same with 16 platforms.
	widePushRequests = 34
	// otherRepoPushRequests: the 4-platform list pushed into another
	// repository of the same registry.
	otherRepoPushRequests = 30
	// otherRepoCopyRequests: that list copied into a third repository.
	otherRepoCopyRequests = 28
	// crossCopyRequests: a 4-platform list (3 layers of 1 MiB each image)
	// copied across registries, both sides together.
	crossCopyRequests = 60
	// recopyRequests: the same copy again, the destination holding it.
	recopyRequests = 2
	// mergeRequests: a same-repository merge of 2 platforms into 4.
	mergeRequests = 4
	// mirrorRequests: `copy --all-tags` of the mirror repository (40
	// tags: 5 four-platform lists under 4 tags each, their 20 images under
	// their own; 2 layers of 256 KiB each image) across registries, both
	// sides together.
	mirrorRequests = 262
	// remirrorRequests: the same again, nothing to write: a tag list and a
	// HEAD per tag on each side.
	remirrorRequests = 82
)

// widePlatforms are 16 platforms Go and the OCI spec know.
var widePlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x",
	"linux/arm/v6", "linux/arm/v5", "linux/ppc64le", "linux/ppc64",
	"linux/riscv64", "linux/386", "linux/mips64le", "linux/mips64",
	"linux/loong64", "windows/amd64", "windows/arm64", "freebsd/amd64",
}

// startCountingProxy puts a proxy in front of reg until tb ends, adding
// delay to every request (benchmarks price round trips; tests add none).
func startCountingProxy(tb testing.TB, reg *harness.Registry, delay time.Duration) *proxy.Proxy {
	tb.Helper()
	p, err := proxy.Start(reg.URL, proxy.Options{Delay: delay})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// timed runs fn, timing it on tb's benchmark timer when tb is a benchmark,
// and returns its wall time.
func timed(tb testing.TB, fn func()) time.Duration {
	b, _ := tb.(*testing.B)
	start := time.Now()
	if b != nil {
		b.StartTimer()
	}
	fn()
	if b != nil {
		b.StopTimer()
	}
	return time.Since(start)
}

// createPush pushes one image per platform (3 small layers, as the copy
// benchmarks) into imgRepo directly, then runs `docker mlist create` and
// `push` of a list of them as listRepo:v1 through p, and returns the wall
// time of the two commands (timed in a benchmark) and p's request count.
// It fails tb unless the registry then holds a list of exactly those images.
func createPush(tb testing.TB, e *env, reg *harness.Registry, p *proxy.Proxy, imgRepo, listRepo string, platforms []string) (time.Duration, int) {
	return createPushSteps(tb, e, reg, p, imgRepo, listRepo, platforms, false)
}

// createPushSteps is createPush, with oneStep by `create --push` alone.
func createPushSteps(tb testing.TB, e *env, reg *harness.Registry, p *proxy.Proxy, imgRepo, listRepo string, platforms []string, oneStep bool) (time.Duration, int) {
	tb.Helper()
	imgs := reg.PushImages(tb, imgRepo, "img", harness.ImageOptions{Layers: 3}, platforms...)
	list := p.Host + "/" + listRepo + ":v1"
	args := []string{"create", list}
	if oneStep {
		args = []string{"create", "--push", "-q", list}
	}
	for _, img := range imgs {
		args = append(args, p.Host+"/"+imgRepo+":"+img.Tag)
	}
	p.Reset()
	var r result
	d := timed(tb, func() {
		r = e.mlist(args...)
		if r.ExitCode == 0 && !oneStep {
			r = e.mlist("push", "--purge", list)
		}
	})
	if r.ExitCode != 0 {
		tb.Fatalf("create+push of %d platforms: exit %d\n%s", len(platforms), r.ExitCode, r.Stderr)
	}
	n := p.Count()
	want := map[string]string{}
	for _, img := range imgs {
		want[img.Platform.String()] = img.Digest
	}
	if err := checkListAt(reg, listRepo, "v1", strings.TrimSpace(r.Stdout), want, nil); err != nil {
		tb.Fatal(err)
	}
	return d, n
}

// copyOtherRepo copies fromRepo:v1 into toRepo:v1 of the same registry
// through p, untimed, and returns p's request count; it fails tb unless
// toRepo:v1 is then fromRepo:v1.
func copyOtherRepo(tb testing.TB, e *env, reg *harness.Registry, p *proxy.Proxy, fromRepo, toRepo string) int {
	tb.Helper()
	p.Reset()
	r := e.mlist("copy", "-q", p.Host+"/"+fromRepo+":v1", p.Host+"/"+toRepo+":v1")
	n := p.Count()
	if r.ExitCode != 0 {
		tb.Fatalf("copy into another repository: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	if got, want := reg.MustGetManifest(tb, toRepo, "v1").Digest, reg.MustGetManifest(tb, fromRepo, "v1").Digest; got != want || strings.TrimSpace(r.Stdout) != want {
		tb.Fatalf("copy printed %q, %s:v1 is %s, want %s", r.Stdout, toRepo, got, want)
	}
	return n
}

// pushCrossCopySource pushes the cross-registry copy's source into repo:
// one image per copyPlatforms entry, each 3 layers of 1 MiB, and a list of
// them as repo:v1.
func pushCrossCopySource(tb testing.TB, reg *harness.Registry, repo string) harness.List {
	tb.Helper()
	imgs := reg.PushImages(tb, repo, "img", harness.ImageOptions{Layers: 3, LayerSize: 1 << 20}, copyPlatforms...)
	return reg.PushList(tb, repo, "v1", imgs, harness.ListOptions{})
}

// crossCopy copies from (through srcProxy) to dstProxy's repo:v1 with
// `docker mlist copy -q`, and returns its wall time (timed in a benchmark)
// and the requests of both proxies, source first. It fails tb unless the
// destination then holds list.
func crossCopy(tb testing.TB, e *env, srcProxy, dstProxy *proxy.Proxy, dst *harness.Registry, from, repo string, list harness.List) (time.Duration, harness.Requests) {
	tb.Helper()
	srcProxy.Reset()
	dstProxy.Reset()
	var r result
	d := timed(tb, func() { r = e.mlist("copy", "-q", from, dstProxy.Host+"/"+repo+":v1") })
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != list.Digest {
		tb.Fatalf("docker mlist copy: exit %d, stdout %q, want %s\n%s", r.ExitCode, r.Stdout, list.Digest, r.Stderr)
	}
	if m := dst.MustGetManifest(tb, repo, "v1"); m.Digest != list.Digest {
		tb.Fatalf("destination holds %s, want %s", m.Digest, list.Digest)
	}
	return d, append(srcProxy.Requests(), dstProxy.Requests()...)
}

// mergeThrough resets f's DESTINATION to its 4-platform list, merges
// SOURCE into it with `docker mlist merge -q` through p (in front of
// f.reg), and returns the merge's wall time (timed in a benchmark) and the
// requests p forwarded. It fails tb unless DESTINATION changed to what the
// merge printed, or when a request was repeated.
func mergeThrough(tb testing.TB, e *env, p *proxy.Proxy, f mergeFixture) (time.Duration, harness.Requests) {
	tb.Helper()
	if _, err := f.reg.Client().PutManifest(f.dstRepo, f.dstTag, f.dst.MediaType, f.dst.Raw); err != nil {
		tb.Fatal(err)
	}
	p.Reset()
	var r result
	d := timed(tb, func() {
		r = e.mlist("merge", "-q", p.Host+"/"+f.srcRepo+":"+f.srcTag, p.Host+"/"+f.dstRepo+":"+f.dstTag)
	})
	if r.ExitCode != 0 {
		tb.Fatalf("merge: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	reqs := p.Requests()
	if got := f.reg.MustGetManifest(tb, f.dstRepo, f.dstTag).Digest; got == f.dst.Digest || strings.TrimSpace(r.Stdout) != got {
		tb.Fatalf("merge printed %q; DESTINATION is %s (was %s)", r.Stdout, got, f.dst.Digest)
	}
	var seen []string
	for _, q := range reqs {
		k := q.Method + " " + q.Path + "?" + q.Query
		if slices.Contains(seen, k) {
			tb.Errorf("request repeated: %s\n%s", q, reqs)
		}
		seen = append(seen, k)
	}
	return d, reqs
}

// TestRequestCounts: README's request counts, exactly, counted by a proxy
// in front of each registry (no delay: counts, not times; the benchmarks
// time the same runs).
func TestRequestCounts(t *testing.T) {
	e := newEnv(t)
	exactly := func(t *testing.T, what string, got, want int, log harness.Requests) {
		t.Helper()
		if got != want {
			t.Errorf("%s made %d requests, README says %d:\n%s", what, got, want, log)
		}
	}

	t.Run("create+push", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		repo := func(s string) string { return testRepo(t, s) }
		_, n := createPush(t, e, reg, p, repo("four"), repo("four"), copyPlatforms)
		exactly(t, "create+push of 4 platforms in the images' repository", n, sameRepoPushRequests, p.Requests())
		_, n = createPushSteps(t, e, reg, p, repo("one"), repo("one"), copyPlatforms, true)
		exactly(t, "create --push of 4 platforms in the images' repository", n, createPushOneStepRequests, p.Requests())
		_, n = createPush(t, e, reg, p, repo("wide"), repo("wide"), widePlatforms)
		exactly(t, "create+push of 16 platforms in the images' repository", n, widePushRequests, p.Requests())
		_, n = createPush(t, e, reg, p, repo("images"), repo("list"), copyPlatforms)
		exactly(t, "create+push of 4 platforms into another repository", n, otherRepoPushRequests, p.Requests())
		n = copyOtherRepo(t, e, reg, p, repo("list"), repo("copy"))
		exactly(t, "copy of the 4-platform list into another repository", n, otherRepoCopyRequests, p.Requests())
	})

	t.Run("copy across registries", func(t *testing.T) {
		src, dst := plainRegistry(t), copyDestRegistry(t)
		srcProxy, dstProxy := startCountingProxy(t, src, 0), startCountingProxy(t, dst, 0)
		srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
		list := pushCrossCopySource(t, src, srcRepo)
		from := srcProxy.Host + "/" + srcRepo + ":v1"
		_, reqs := crossCopy(t, e, srcProxy, dstProxy, dst, from, dstRepo, list)
		exactly(t, "the copy across registries", len(reqs), crossCopyRequests, reqs)
		_, reqs = crossCopy(t, e, srcProxy, dstProxy, dst, from, dstRepo, list)
		exactly(t, "the copy again", len(reqs), recopyRequests, reqs)
	})

	t.Run("copy --all-tags", func(t *testing.T) {
		src, dst := plainRegistry(t), copyDestRegistry(t)
		srcProxy, dstProxy := startCountingProxy(t, src, 0), startCountingProxy(t, dst, 0)
		s := pushMirrorSource(t, src, testRepo(t, "src"), 5, mirrorImage)
		dstRepo := testRepo(t, "dst")
		// The dry run's plan predicts the run's requests exactly.
		var plan struct{ Requests int }
		out := e.mustMlist(t, "copy", "--all-tags", "--dry-run", "-f", "json", srcProxy.Host+"/"+s.repo, dstProxy.Host+"/"+dstRepo)
		if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Requests != mirrorRequests {
			t.Errorf("the dry run predicts %d requests, want %d (%v)", plan.Requests, mirrorRequests, err)
		}
		_, reqs := mirrorThrough(t, e, srcProxy, dstProxy, dst, s, dstRepo)
		exactly(t, "copy --all-tags across registries", len(reqs), mirrorRequests, reqs)
		_, reqs = mirrorThrough(t, e, srcProxy, dstProxy, dst, s, dstRepo)
		exactly(t, "copy --all-tags again", len(reqs), remirrorRequests, reqs)
	})

	t.Run("merge", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		f := pushMergeFixture(t, reg, reg, testRepo(t, "app"), testRepo(t, "app"), harness.ListOptions{})
		_, reqs := mergeThrough(t, e, p, f)
		exactly(t, "a same-repository merge", len(reqs), mergeRequests, reqs)
	})
}
