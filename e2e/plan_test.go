package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// planJSON is what every write's `--dry-run --format json` prints, in part.
type planJSON struct {
	Digest          string `json:"digest"`
	Unchanged       bool   `json:"unchanged"`
	Requests        int    `json:"requests"`
	RequestsExact   bool   `json:"requestsExact"`
	RequestsLeftOut string `json:"requestsLeftOut"`
	raw             string // the JSON as printed
	Tags            []struct {
		Tag       string `json:"tag"`
		Old       string `json:"old"`
		New       string `json:"new"`
		Unchanged bool   `json:"unchanged"`
	} `json:"tags"`
}

// dryThenRun runs args with --dry-run --format json, then for real, both
// through the proxies, and fails t unless the real run's request log has
// exactly the plan's requests. It returns the plan and the real run.
func dryThenRun(t *testing.T, e *env, proxies []*proxy.Proxy, args ...string) (planJSON, result) {
	t.Helper()
	out := e.mustMlist(t, append([]string{args[0], "--dry-run", "--format", "json"}, args[1:]...)...)
	plan := planJSON{raw: out}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%s --dry-run --format json: %v\n%s", args[0], err, out)
	}
	for _, p := range proxies {
		p.Reset()
	}
	r := e.mlist(args...)
	mustSucceed(t, r, args[0])
	var log harness.Requests
	for _, p := range proxies {
		log = append(log, p.Requests()...)
	}
	if len(log) != plan.Requests || !plan.RequestsExact {
		t.Errorf("%s: the dry run planned %d requests (exact: %v), the run made %d:\n%s", args[0], plan.Requests, plan.RequestsExact, len(log), log)
	}
	if got := strings.TrimSpace(r.Stdout); got != plan.Digest {
		t.Errorf("%s wrote %s, the dry run planned %s", args[0], got, plan.Digest)
	}
	return plan, r
}

// movedLine is how a plan and a summary name a tag that moves.
func movedLine(tag, old, new string) string {
	return fmt.Sprintf("%s: %s… → %s…", tag, old[:len("sha256:")+12], new[:len("sha256:")+12])
}

// TestPlanRequestsAreExact: for push, merge and copy, the dry run's
// `requests` is the request count of the run that follows, a moved tag is
// named in the plan and the summary, and a push whose tag holds the list
// already writes nothing.
func TestPlanRequestsAreExact(t *testing.T) {
	e := newEnv(t)

	t.Run("push", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		imgRepo, listRepo := testRepo(t, "images"), testRepo(t, "list")
		imgs := reg.PushImages(t, imgRepo, "img", harness.ImageOptions{Layers: 2}, copyPlatforms...)
		old := reg.PushList(t, listRepo, "v1", reg.PushImages(t, listRepo, "old", harness.ImageOptions{}, "linux/amd64"), harness.ListOptions{})
		list := p.Host + "/" + listRepo + ":v1"
		args := []string{"create", list}
		for _, img := range imgs {
			args = append(args, p.Host+"/"+imgRepo+":"+img.Tag)
		}
		e.mustMlist(t, args...)
		plan, r := dryThenRun(t, e, []*proxy.Proxy{p}, "push", list)
		if len(plan.Tags) != 1 || plan.Tags[0].Old != old.Digest || plan.Tags[0].New != plan.Digest {
			t.Errorf("plan tags %+v, want v1 moved from %s", plan.Tags, old.Digest)
		}
		if want := movedLine(list, old.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
		table := e.mustMlist(t, "push", "--dry-run", list)
		if !strings.Contains(table, list+": "+plan.Digest[:len("sha256:")+12]+"… (unchanged: nothing written)") {
			t.Errorf("a dry run of what the tag holds does not say so:\n%s", table)
		}
		// Again: the tag holds the list; nothing is written.
		plan, r = dryThenRun(t, e, []*proxy.Proxy{p}, "push", list)
		if !plan.Unchanged || !strings.Contains(r.Stderr, "nothing written") {
			t.Errorf("push of what the tag holds: unchanged %v\n%s", plan.Unchanged, r.Stderr)
		}
		for _, q := range p.Requests() {
			if q.Method != "GET" && q.Method != "HEAD" {
				t.Errorf("push of what the tag holds wrote: %s", q)
			}
		}
	})

	t.Run("merge", func(t *testing.T) {
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		f := pushMergeFixture(t, reg, reg, testRepo(t, "app"), testRepo(t, "ci"), harness.ListOptions{})
		dst := p.Host + "/" + f.dstRepo + ":" + f.dstTag
		plan, r := dryThenRun(t, e, []*proxy.Proxy{p}, "merge", p.Host+"/"+f.srcRepo+":"+f.srcTag, dst)
		if want := movedLine(dst, f.dst.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
	})

	t.Run("copy", func(t *testing.T) {
		src, dst := plainRegistry(t), copyDestRegistry(t)
		sp, dp := startCountingProxy(t, src, 0), startCountingProxy(t, dst, 0)
		srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
		pushCrossCopySource(t, src, srcRepo)
		old := dst.PushList(t, dstRepo, "v1", dst.PushImages(t, dstRepo, "old", harness.ImageOptions{}, "linux/amd64"), harness.ListOptions{})
		to := dp.Host + "/" + dstRepo + ":v1"
		plan, r := dryThenRun(t, e, []*proxy.Proxy{sp, dp}, "copy", sp.Host+"/"+srcRepo+":v1", to)
		if want := movedLine(to, old.Digest, plan.Digest); !strings.Contains(r.Stderr, want) {
			t.Errorf("the summary does not say %q:\n%s", want, r.Stderr)
		}
		table := e.mustMlist(t, "copy", "--dry-run", sp.Host+"/"+srcRepo+":v1", dp.Host+"/"+dstRepo+":v2")
		if !strings.Contains(table, dp.Host+"/"+dstRepo+":v2: → "+plan.Digest[:len("sha256:")+12]+"… (written: a new tag)") {
			t.Errorf("the plan does not name the new tag:\n%s", table)
		}
	})

	t.Run("copy into a layout that holds some blobs", func(t *testing.T) {
		src := plainRegistry(t)
		sp := startCountingProxy(t, src, 0)
		srcRepo := testRepo(t, "src")
		pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
		dir := filepath.Join(t.TempDir(), "layout")
		e.mustMlist(t, "copy", "--platform", "linux/amd64", sp.Host+"/"+srcRepo+":v1", "oci:"+dir+":amd64")
		plan, _ := dryThenRun(t, e, []*proxy.Proxy{sp}, "copy", sp.Host+"/"+srcRepo+":v1", "oci:"+dir+":v1")
		if n := strings.Count(plan.raw, `"action": "present"`); n != 3 {
			t.Errorf("the plan finds %d blobs in the layout, want the amd64 image's 3:\n%s", n, plan.raw)
		}
	})

	t.Run("copy --referrers", func(t *testing.T) {
		// One registry: the proxy's one log orders the image's requests
		// and the referrers'.
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
		list := pushCopySource(t, reg, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
		sig := pushArtifact(t, reg, srcRepo, harness.Descriptor{MediaType: list.MediaType, Digest: list.Digest, Size: int64(len(list.Raw))}, notationSig, "signature of the list")
		putReferrersIndex(t, reg, srcRepo, list.Digest, sig)
		args := []string{"copy", "--referrers", p.Host + "/" + srcRepo + ":v1", p.Host + "/" + dstRepo + ":v1"}
		out := e.mustMlist(t, append([]string{"copy", "--dry-run", "--format", "json"}, args[1:]...)...)
		var plan planJSON
		if err := json.Unmarshal([]byte(out), &plan); err != nil {
			t.Fatal(err)
		}
		if !plan.RequestsExact || plan.RequestsLeftOut != "" {
			t.Errorf("a --referrers plan does not say its requests are exact:\n%s", out)
		}
		p.Reset()
		mustSucceed(t, e.mlist(args...), "copy --referrers")
		// Every request of the run, the referrers' included (found and
		// read by the plan), and the tag written last.
		log := p.Requests()
		last := log[len(log)-1]
		if last.Method != "PUT" || last.Path != "/v2/"+dstRepo+"/manifests/v1" {
			t.Fatalf("the copy did not write its tag last:\n%s", log)
		}
		if len(log) != plan.Requests {
			t.Errorf("the dry run planned %d requests, the copy made %d:\n%s", plan.Requests, len(log), log)
		}
		checkReferrersIndex(t, reg, dstRepo, list.Digest, sig)
	})

	t.Run("copy --referrers into a layout", func(t *testing.T) {
		// The plan reads the referrers too; the run reads what the layout
		// lacks, and a second copy into the layout fewer blobs.
		reg := plainRegistry(t)
		p := startCountingProxy(t, reg, 0)
		srcRepo := testRepo(t, "src")
		list := pushCopySource(t, reg, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
		sig := pushArtifact(t, reg, srcRepo, harness.Descriptor{MediaType: list.MediaType, Digest: list.Digest, Size: int64(len(list.Raw))}, notationSig, "signature of the list")
		putReferrersIndex(t, reg, srcRepo, list.Digest, sig)
		dir := filepath.Join(t.TempDir(), "layout")
		first, _ := dryThenRun(t, e, []*proxy.Proxy{p}, "copy", "--referrers", p.Host+"/"+srcRepo+":v1", "oci:"+dir+":v1")
		again, _ := dryThenRun(t, e, []*proxy.Proxy{p}, "copy", "--referrers", p.Host+"/"+srcRepo+":v1", "oci:"+dir+":v2")
		if again.Requests >= first.Requests {
			t.Errorf("a copy into a layout that holds the referrers plans %d requests, the first %d", again.Requests, first.Requests)
		}
		if !strings.Contains(first.raw, sig.Digest) {
			t.Errorf("the plan does not list the signature %s:\n%s", sig.Digest, first.raw)
		}
	})
}

// TestProgressOnTerminal: push and merge draw the progress display on a
// terminal (a pseudo-terminal, through script(1)) and none when piped.
func TestProgressOnTerminal(t *testing.T) {
	e := newEnv(t)
	reg := plainRegistry(t)
	imgRepo := testRepo(t, "images")
	imgs := reg.PushImages(t, imgRepo, "img", harness.ImageOptions{Layers: 2}, copyPlatforms...)
	f := pushMergeFixture(t, reg, reg, testRepo(t, "app"), testRepo(t, "ci"), harness.ListOptions{})
	onTerminal := func(args ...string) string {
		t.Helper()
		r := e.run("", "script", "-qfec", "docker mlist "+strings.Join(args, " "), "/dev/null")
		return mustSucceed(t, r, "script "+args[0])
	}
	create := func(list string) {
		args := []string{"create", list}
		for _, img := range imgs {
			args = append(args, reg.Ref(imgRepo+":"+img.Tag))
		}
		e.mustMlist(t, args...)
	}
	const redraw = "\033[K"
	for _, tc := range []struct {
		name, label string
		args        func(n int) []string
	}{
		{"push", "Pushing:", func(n int) []string {
			list := reg.Ref(testRepo(t, fmt.Sprintf("list%d", n)) + ":v1")
			create(list)
			return []string{"push", list}
		}},
		{"merge", "Merging:", func(n int) []string {
			if n == 1 {
				// The second merge needs DESTINATION as it was.
				if _, err := f.reg.Client().PutManifest(f.dstRepo, f.dstTag, f.dst.MediaType, f.dst.Raw); err != nil {
					t.Fatal(err)
				}
			}
			return []string{"merge", f.reg.Ref(f.srcRepo + ":" + f.srcTag), f.dstRef()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := onTerminal(tc.args(0)...)
			if !strings.Contains(out, redraw) || !strings.Contains(out, tc.label) {
				t.Errorf("%s on a terminal drew no progress:\n%q", tc.name, out)
			}
			r := e.mlist(tc.args(1)...)
			mustSucceed(t, r, tc.name)
			if strings.Contains(r.Combined(), "\033[") || strings.Contains(r.Combined(), tc.label) {
				t.Errorf("%s piped drew progress:\n%q", tc.name, r.Combined())
			}
		})
	}
}
