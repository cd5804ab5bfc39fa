package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// mirrorSource is the repository `copy --all-tags` benchmarks and tests
// mirror: lists four-platform lists, each under 4 tags (vN, vN.0, vN.0.0,
// vN-stable), and their images under their own tags (imgN-OS-ARCH).
// tags maps every tag to its digest.
type mirrorSource struct {
	repo string
	tags map[string]string
}

func pushMirrorSource(tb testing.TB, reg *harness.Registry, repo string, lists int, opts harness.ImageOptions) mirrorSource {
	tb.Helper()
	s := mirrorSource{repo: repo, tags: map[string]string{}}
	for i := range lists {
		imgs := reg.PushImages(tb, repo, fmt.Sprintf("img%d", i), opts, copyPlatforms...)
		for _, img := range imgs {
			s.tags[img.Tag] = img.Digest
		}
		l := reg.PushList(tb, repo, fmt.Sprintf("v%d", i), imgs, harness.ListOptions{})
		s.tags[l.Tag] = l.Digest
		for _, tag := range []string{fmt.Sprintf("v%d.0", i), fmt.Sprintf("v%d.0.0", i), fmt.Sprintf("v%d-stable", i)} {
			if _, err := reg.Client().PutManifest(repo, tag, l.MediaType, l.Raw); err != nil {
				tb.Fatal(err)
			}
			s.tags[tag] = l.Digest
		}
	}
	return s
}

// mirrorImage is what each image of the counted and benchmarked mirror
// holds: 2 layers of 256 KiB.
var mirrorImage = harness.ImageOptions{Layers: 2, LayerSize: 256 << 10}

// mirrorThrough runs `docker mlist copy --all-tags -q` of s (through
// srcProxy) into dstRepo (through dstProxy), and returns its wall time
// (timed in a benchmark) and the requests of both proxies, source first.
// It fails tb unless dstRepo then holds every tag of s.
func mirrorThrough(tb testing.TB, e *env, srcProxy, dstProxy *proxy.Proxy, dst *harness.Registry, s mirrorSource, dstRepo string) (time.Duration, harness.Requests) {
	tb.Helper()
	srcProxy.Reset()
	dstProxy.Reset()
	var r result
	d := timed(tb, func() { r = e.mlist("copy", "--all-tags", "-q", srcProxy.Host+"/"+s.repo, dstProxy.Host+"/"+dstRepo) })
	if r.ExitCode != 0 {
		tb.Fatalf("copy --all-tags: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	checkMirrored(tb, dst, dstRepo, s.tags)
	return d, append(srcProxy.Requests(), dstProxy.Requests()...)
}

// checkMirrored fails tb unless repo of reg holds exactly the tags of want
// (tag to digest), each with its digest.
func checkMirrored(tb testing.TB, reg *harness.Registry, repo string, want map[string]string) {
	tb.Helper()
	got := reg.Tags(tb, repo)
	slices.Sort(got)
	var names []string
	for t := range want {
		names = append(names, t)
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		tb.Fatalf("%s holds tags %v, want %v", repo, got, names)
	}
	for t, d := range want {
		if m := reg.MustGetManifest(tb, repo, t); m.Digest != d {
			tb.Errorf("%s:%s is %s, want %s", repo, t, m.Digest, d)
		}
	}
}

// TestCopyAllTags: issue 21 item 3. Every tag, the same digests, each
// distinct manifest and blob written once; a re-run reads only (a tag list
// and a HEAD per tag on each side); a dry run writes nothing; filters
// select tags; an oci: layout gets one name per tag, and goes back.
func TestCopyAllTags(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo := testRepo(t, "src")
	s := pushMirrorSource(t, src, srcRepo, 2, harness.ImageOptions{Layers: 2})
	e := newEnv(t)
	from := src.Ref(srcRepo)

	t.Run("dry run", func(t *testing.T) {
		dstRepo := testRepo(t, "dry")
		mark := dst.Mark()
		out := e.mustMlist(t, "copy", "--all-tags", "--dry-run", "--format", "json", from, dst.Ref(dstRepo))
		if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
			t.Errorf("the dry run wrote:\n%s", w)
		}
		var plan struct {
			Requests int
			Tags     []struct{ Tag, New, Status string }
		}
		if err := json.Unmarshal([]byte(out), &plan); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(plan.Tags) != len(s.tags) {
			t.Fatalf("the plan names %d tags, want %d:\n%s", len(plan.Tags), len(s.tags), out)
		}
		for _, tw := range plan.Tags {
			if tag := tw.Tag[strings.LastIndex(tw.Tag, ":")+1:]; tw.Status != "written" || tw.New != s.tags[tag] {
				t.Errorf("plan: %+v, want %s written", tw, s.tags[tag])
			}
		}
	})

	dstRepo := testRepo(t, "dst")
	to := dst.Ref(dstRepo)
	mark := dst.Mark()
	r := e.mlist("copy", "--all-tags", from, to)
	if r.ExitCode != 0 {
		t.Fatalf("copy --all-tags: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	if !strings.Contains(r.Stderr, fmt.Sprintf("Tags: %d new, 0 moved, 0 unchanged, 0 failed", len(s.tags))) {
		t.Errorf("summary does not count the tags:\n%s", r.Stderr)
	}
	checkMirrored(t, dst, dstRepo, s.tags)
	// 2 lists of 4 images of a config and 2 layers: 24 blobs uploaded
	// once; a manifest PUT per tag and nothing more.
	reqs := dst.RequestsSince(mark).ForRepo(dstRepo)
	if n := reqs.Count(http.MethodPut, "/blobs/uploads/"); n != 24 {
		t.Errorf("%d blob uploads completed, want 24:\n%s", n, reqs)
	}
	if n := reqs.Count(http.MethodPut, "/manifests/"); n != len(s.tags) {
		t.Errorf("%d manifest PUTs, want one per tag (%d):\n%s", n, len(s.tags), reqs)
	}

	t.Run("again", func(t *testing.T) {
		srcMark, dstMark := src.Mark(), dst.Mark()
		r := e.mlist("copy", "--all-tags", "--format", "json", from, to)
		if r.ExitCode != 0 {
			t.Fatalf("exit %d\n%s", r.ExitCode, r.Stderr)
		}
		var tags []struct{ Tag, Status string }
		if err := json.Unmarshal([]byte(r.Stdout), &tags); err != nil {
			t.Fatalf("%v\n%s", err, r.Stdout)
		}
		for _, tw := range tags {
			if tw.Status != "unchanged" {
				t.Errorf("re-run: %+v, want unchanged", tw)
			}
		}
		dstReqs, srcReqs := notPing(dst.RequestsSince(dstMark)), notPing(src.RequestsSince(srcMark))
		if w := writes(dstReqs); len(w) > 0 {
			t.Errorf("the re-run wrote:\n%s", w)
		}
		// A tag list and a HEAD per tag on each side.
		for side, rs := range map[string]harness.Requests{"source": srcReqs, "destination": dstReqs} {
			heads := rs.Count(http.MethodHead, "/manifests/")
			lists := rs.Count(http.MethodGet, "/tags/list")
			if heads != len(s.tags) || lists != 1 || len(rs) != heads+lists {
				t.Errorf("%s: %d requests (%d HEADs, %d tag lists), want %d HEADs and 1 tag list:\n%s", side, len(rs), heads, lists, len(s.tags), rs)
			}
		}
	})

	t.Run("moved tag, dry run", func(t *testing.T) {
		v1 := src.MustGetManifest(t, srcRepo, "v1")
		if _, err := src.Client().PutManifest(srcRepo, "v0-stable", v1.MediaType, v1.Raw); err != nil {
			t.Fatal(err)
		}
		mark := dst.Mark()
		out := e.mustMlist(t, "copy", "--all-tags", "--dry-run", from, to)
		if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
			t.Errorf("the dry run wrote:\n%s", w)
		}
		moved := fmt.Sprintf("%s:v0-stable: %s… → %s… (moved)", to, s.tags["v0-stable"][:19], v1.Digest[:19])
		counts := fmt.Sprintf("Tags: 0 new, 1 moved, %d unchanged, 0 failed", len(s.tags)-1)
		if !strings.Contains(out, moved) || !strings.Contains(out, counts) {
			t.Errorf("the plan lacks %q or %q:\n%s", moved, counts, out)
		}
		s.tags["v0-stable"] = v1.Digest // for the subtests below
	})

	t.Run("filters", func(t *testing.T) {
		repo := testRepo(t, "filtered")
		e.mustMlist(t, "copy", "--all-tags", "--include", `^v`, "--include", `-arm64$`, "--exclude", `\.0$`, "--exclude", `^v1`, from, dst.Ref(repo))
		want := map[string]string{}
		for tag, d := range s.tags {
			if (strings.HasPrefix(tag, "v") || strings.HasSuffix(tag, "-arm64")) && !strings.HasSuffix(tag, ".0") && !strings.HasPrefix(tag, "v1") {
				want[tag] = d
			}
		}
		checkMirrored(t, dst, repo, want)
		e.mlistFails(t, `invalid --include "\(": .*Go regular expression`, "copy", "--all-tags", "--include", "(", from, dst.Ref(repo))
	})

	t.Run("oci layout and back", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		e.mustMlist(t, "copy", "--all-tags", from, "oci:"+dir)
		raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var idx struct {
			Manifests []struct {
				Digest      string
				Annotations map[string]string
			}
		}
		if err := json.Unmarshal(raw, &idx); err != nil {
			t.Fatal(err)
		}
		named := map[string]string{}
		for _, m := range idx.Manifests {
			named[m.Annotations["org.opencontainers.image.ref.name"]] = m.Digest
		}
		if !maps.Equal(named, s.tags) {
			t.Errorf("index.json names %v, want %v", named, s.tags)
		}
		again := e.mlist("copy", "--all-tags", from, "oci:"+dir)
		if want := fmt.Sprintf("Tags: 0 new, 0 moved, %d unchanged, 0 failed", len(s.tags)); again.ExitCode != 0 || !strings.Contains(again.Stderr, want) {
			t.Errorf("the layout again: exit %d, want %q:\n%s", again.ExitCode, want, again.Stderr)
		}
		back := testRepo(t, "back")
		e.mustMlist(t, "copy", "--all-tags", "oci:"+dir, dst.Ref(back))
		checkMirrored(t, dst, back, s.tags)
	})
}

// TestCopyAllTagsBrokenTag: a tag whose source cannot be read (a list whose
// entry is gone) fails alone: every other tag is written, and the command
// exits 1 naming it.
func TestCopyAllTagsBrokenTag(t *testing.T) {
	src, dst := copyDestRegistry(t), plainRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	s := pushMirrorSource(t, src, srcRepo, 1, harness.ImageOptions{})
	broken := pushCopySource(t, src, srcRepo, "broken", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	if st, err := src.Client().DeleteManifest(srcRepo, broken.Images[1].Digest); err != nil || st != http.StatusAccepted {
		t.Fatalf("delete: %d %v", st, err)
	}
	want := map[string]string{}
	for tag, d := range s.tags {
		want[tag] = d
	}
	want[broken.Images[0].Tag] = broken.Images[0].Digest
	e := newEnv(t)
	r := e.mlistFails(t, `1 tag failed: .*:broken \(`, "copy", "--all-tags", src.Ref(srcRepo), dst.Ref(dstRepo))
	if r.ExitCode != 1 {
		t.Errorf("exit %d, want 1", r.ExitCode)
	}
	checkMirrored(t, dst, dstRepo, want)
}

// TestCopyAllTagsProgressOnTerminal: on a terminal (a pseudo-terminal,
// through script(1)) the progress display counts the tags written against
// those to write.
func TestCopyAllTagsProgressOnTerminal(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	// Slow enough for the display to be drawn while the tags are written.
	sp, dp := startCountingProxy(t, src, 20*time.Millisecond), startCountingProxy(t, dst, 20*time.Millisecond)
	s := pushMirrorSource(t, src, testRepo(t, "src"), 2, harness.ImageOptions{})
	e := newEnv(t)
	cmd := "docker mlist copy --all-tags " + sp.Host + "/" + s.repo + " " + dp.Host + "/" + testRepo(t, "dst")
	out := mustSucceed(t, e.run("", "script", "-qfec", cmd, "/dev/null"), "script")
	if want := regexp.MustCompile(fmt.Sprintf(`Copying tags: \d+/%d tags, `, len(s.tags))); !want.MatchString(out) {
		t.Errorf("the display does not count the tags (want %s):\n%q", want, out)
	}
}

// TestCopyAllTagsPlatform: --platform subsets every list of the mirror
// (each destination list holds the amd64 image alone), a tag that is a
// single image is copied whole and its result says so, and a re-run
// writes nothing.
func TestCopyAllTagsPlatform(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	s := pushMirrorSource(t, src, testRepo(t, "src"), 1, harness.ImageOptions{})
	dstRepo := testRepo(t, "dst")
	e := newEnv(t)
	args := []string{"copy", "--all-tags", "--platform", "linux/amd64", "--format", "json", src.Ref(s.repo), dst.Ref(dstRepo)}
	var results []struct{ Tag, New, Status, Note string }
	if err := json.Unmarshal([]byte(e.mustMlist(t, args...)), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != len(s.tags) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(s.tags), results)
	}
	for _, r := range results {
		tag := r.Tag[strings.LastIndex(r.Tag, ":")+1:]
		m := dst.MustGetManifest(t, dstRepo, tag)
		var l struct {
			Manifests []struct {
				Digest   string
				Platform struct{ OS, Architecture string }
			}
		}
		if err := json.Unmarshal(m.Raw, &l); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(tag, "v"):
			if len(l.Manifests) != 1 || l.Manifests[0].Platform.Architecture != "amd64" || r.New != m.Digest || r.Note != "" {
				t.Errorf("%s: %+v holds %+v, want the amd64 entry alone", tag, r, l.Manifests)
			}
		case m.Digest != s.tags[tag] || r.Note == "" || len(l.Manifests) != 0:
			t.Errorf("%s: %+v is %s, want the single image %s copied whole, and said so", tag, r, m.Digest, s.tags[tag])
		}
	}

	mark := dst.Mark()
	var again []struct{ Tag, Status string }
	if err := json.Unmarshal([]byte(e.mustMlist(t, args...)), &again); err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Status != "unchanged" {
			t.Errorf("re-run: %+v, want unchanged", r)
		}
	}
	if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
		t.Errorf("the re-run wrote:\n%s", w)
	}
}

// TestCopyAllTagsReferrers: `copy --all-tags --referrers` between
// registries (docker-registry, without the referrers API) brings every
// tag and the signature of one of them, with the destination's tag-schema
// index listing it; the source's index tag is not mirrored as a tag of its
// own but written for the signature; the dry run predicts exactly the
// requests of the run; a re-run writes nothing.
func TestCopyAllTagsReferrers(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	s := pushMirrorSource(t, src, srcRepo, 1, harness.ImageOptions{OCI: true})
	v0 := src.MustGetManifest(t, srcRepo, "v0")
	sig := pushArtifact(t, src, srcRepo, harness.Descriptor{MediaType: v0.MediaType, Digest: v0.Digest, Size: int64(len(v0.Raw))}, notationSig, "signature of v0")
	putReferrersIndex(t, src, srcRepo, v0.Digest, sig)
	e := newEnv(t)
	srcProxy, dstProxy := startCountingProxy(t, src, 0), startCountingProxy(t, dst, 0)
	from, to := srcProxy.Host+"/"+srcRepo, dstProxy.Host+"/"+dstRepo

	// The destination holds one image already, so the plan asks it
	// whether it has the referrers API (docker-registry has not) and
	// counts every request.
	e.mustMlist(t, "copy", "--all-tags", "-q", "--include", "^img0-linux-amd64$", from, to)
	mark := dst.Mark()
	out := e.mustMlist(t, "copy", "--all-tags", "--referrers", "--dry-run", "--format", "json", from, to)
	if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
		t.Errorf("the dry run wrote:\n%s", w)
	}
	var plan planJSON
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(plan.Tags) != len(s.tags) || !plan.RequestsExact {
		t.Errorf("the plan names %d tags, want %d (not the index tag), exact: %v:\n%s", len(plan.Tags), len(s.tags), plan.RequestsExact, out)
	}

	srcProxy.Reset()
	dstProxy.Reset()
	e.mustMlist(t, "copy", "--all-tags", "--referrers", "-q", from, to)
	if log := append(srcProxy.Requests(), dstProxy.Requests()...); len(log) != plan.Requests {
		t.Errorf("the dry run planned %d requests, the mirror made %d:\n%s", plan.Requests, len(log), log)
	}
	want := []string{referrersTag(v0.Digest)}
	for tag, d := range s.tags {
		want = append(want, tag)
		if m := dst.MustGetManifest(t, dstRepo, tag); m.Digest != d {
			t.Errorf("%s:%s is %s, want %s", dstRepo, tag, m.Digest, d)
		}
	}
	got := dst.Tags(t, dstRepo)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds tags %v, want %v", dstRepo, got, want)
	}
	checkReferrersIndex(t, dst, dstRepo, v0.Digest, sig)

	dstMark := dst.Mark()
	e.mustMlist(t, "copy", "--all-tags", "--referrers", "-q", from, to)
	if w := writes(dst.RequestsSince(dstMark)); len(w) > 0 {
		t.Errorf("the re-run wrote:\n%s", w)
	}
}
