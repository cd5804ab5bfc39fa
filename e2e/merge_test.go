package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// The platforms of the usual merge fixture: a 4-platform DESTINATION and a
// 2-platform SOURCE of new builds.
var (
	mergeDstPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"}
	mergeSrcPlatforms = []string{"linux/amd64", "linux/arm64"}
)

// mergeFixture is a DESTINATION list and a SOURCE list pushed by the harness.
type mergeFixture struct {
	reg              *harness.Registry
	dstRepo, dstTag  string
	srcRepo, srcTag  string
	dst, src         harness.List
	dstImgs, srcImgs map[string]harness.Image // by "os/arch[/variant]"
}

func (f mergeFixture) dstRef() string { return f.reg.Ref(f.dstRepo + ":" + f.dstTag) }

// standardResult is the merge of the fixture's SOURCE into its DESTINATION:
// SOURCE's amd64 and arm64, DESTINATION's arm/v7 and s390x.
func (f mergeFixture) standardResult() map[string]string {
	return map[string]string{
		"linux/amd64":  f.srcImgs["linux/amd64"].Digest,
		"linux/arm64":  f.srcImgs["linux/arm64"].Digest,
		"linux/arm/v7": f.dstImgs["linux/arm/v7"].Digest,
		"linux/s390x":  f.dstImgs["linux/s390x"].Digest,
	}
}
func (f mergeFixture) srcRef() string { return f.reg.Ref(f.srcRepo + ":" + f.srcTag) }

// pushMergeFixture pushes DESTINATION dstRepo:v1 (mergeDstPlatforms) on dstReg
// and SOURCE srcRepo:build (mergeSrcPlatforms, new images) on srcReg.
func pushMergeFixture(t testing.TB, dstReg, srcReg *harness.Registry, dstRepo, srcRepo string, lo harness.ListOptions) mergeFixture {
	t.Helper()
	f := mergeFixture{reg: dstReg, dstRepo: dstRepo, dstTag: "v1", srcRepo: srcRepo, srcTag: "build",
		dstImgs: map[string]harness.Image{}, srcImgs: map[string]harness.Image{}}
	imgOpts := harness.ImageOptions{OCI: lo.OCI}
	dimgs := dstReg.PushImages(t, dstRepo, "old", imgOpts, mergeDstPlatforms...)
	f.dst = dstReg.PushList(t, dstRepo, f.dstTag, dimgs, lo)
	simgs := srcReg.PushImages(t, srcRepo, "new", imgOpts, mergeSrcPlatforms...)
	f.src = srcReg.PushList(t, srcRepo, f.srcTag, simgs, lo)
	for _, img := range dimgs {
		f.dstImgs[img.Platform.String()] = img
	}
	for _, img := range simgs {
		f.srcImgs[img.Platform.String()] = img
	}
	return f
}

// mergeImages maps the platform of each non-attestation entry to its digest.
func mergeImages(ix harness.Index) map[string]string {
	out := map[string]string{}
	for _, d := range ix.Images() {
		if d.Platform != nil {
			out[d.Platform.String()] = d.Digest
		}
	}
	return out
}

// checkMergeImages fails t unless ix holds exactly these platform → digest
// entries (attestations aside).
func checkMergeImages(t testing.TB, ix harness.Index, want map[string]string) {
	t.Helper()
	got := mergeImages(ix)
	if len(ix.Images()) != len(want) {
		t.Errorf("result has %d images (%v), want %d", len(ix.Images()), ix.Platforms(), len(want))
	}
	for p, d := range want {
		if got[p] != d {
			t.Errorf("result entry for %s is %q, want %s", p, got[p], d)
		}
	}
}

// mergeWrites keeps the requests that change a registry.
func mergeWrites(rs harness.Requests) harness.Requests {
	return rs.Filter(func(r harness.Request) bool {
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			return true
		}
		return false
	})
}

// checkMergeEntriesPresent fails t unless every entry of ix can be fetched by
// digest from reg/repo, with its config and layers.
func checkMergeEntriesPresent(t testing.TB, reg *harness.Registry, repo string, ix harness.Index) {
	t.Helper()
	for _, d := range ix.Manifests {
		m := reg.GetManifest(t, repo, d.Digest)
		if m.Status != http.StatusOK || m.Digest != d.Digest {
			t.Errorf("entry %s (%v) not fetchable from %s/%s: status %d", d.Digest, d.Platform, reg.Host, repo, m.Status)
			continue
		}
		im, err := m.ImageManifest()
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
			if !reg.BlobExists(t, repo, b.Digest) {
				t.Errorf("blob %s of entry %s missing from %s/%s", b.Digest, d.Digest, reg.Host, repo)
			}
		}
	}
}

func mergeStdoutDigest(t testing.TB, out string) string {
	t.Helper()
	d := strings.TrimSpace(out)
	if !strings.HasPrefix(d, "sha256:") || strings.ContainsAny(d, " \n") {
		t.Fatalf("stdout is not a single digest: %q", out)
	}
	return d
}

// TestMergeSameRepo: case 1, SOURCE and DESTINATION in one repository.
func TestMergeSameRepo(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	f := pushMergeFixture(t, reg, reg, repo, repo, harness.ListOptions{})
	e := newEnv(t)

	mark := reg.Mark()
	out := e.mustMlist(t, "merge", f.srcRef(), f.dstRef())
	printed := mergeStdoutDigest(t, out)

	m, ix := reg.MustGetIndex(t, repo, "v1")
	if printed != m.Digest {
		t.Errorf("printed %s, tag points at %s", printed, m.Digest)
	}
	if m.MediaType != harness.MediaTypeDockerList {
		t.Errorf("result is a %s, want DESTINATION's Docker list", m.MediaType)
	}
	checkMergeImages(t, ix, f.standardResult())
	reg.Validate(t, repo+":v1")
	// Everything already is in the repository: only the list is written.
	w := mergeWrites(reg.RequestsSince(mark).ForRepo(repo))
	if len(w) != 1 || w[0].Method != http.MethodPut || !strings.HasSuffix(w[0].Path, "/manifests/v1") {
		t.Errorf("want a single PUT of the list, got:\n%s", w)
	}
	// SOURCE is untouched.
	if d := reg.MustGetManifest(t, repo, "build").Digest; d != f.src.Digest {
		t.Errorf("SOURCE changed: %s, was %s", d, f.src.Digest)
	}
}

// TestMergeMount: case 2, SOURCE in another repository of the same registry.
func TestMergeMount(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{OCI: true})
	e := newEnv(t)

	mark := reg.Mark()
	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), f.dstRef()))
	m, ix := reg.MustGetIndex(t, dstRepo, "v1")
	if printed != m.Digest || m.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("printed %s; tag is %s %s", printed, m.MediaType, m.Digest)
	}
	checkMergeImages(t, ix, f.standardResult())
	checkMergeEntriesPresent(t, reg, dstRepo, ix)
	reg.Validate(t, dstRepo+":v1")

	reqs := reg.RequestsSince(mark).ForRepo(dstRepo)
	mounts := reqs.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=") && strings.Contains(r.Query, "from=") && r.Status == http.StatusCreated
	})
	// Two images of one layer and one config each.
	if len(mounts) != 4 {
		t.Errorf("%d blob mounts, want 4:\n%s", len(mounts), reqs)
	}
	if n := reqs.Count(http.MethodPatch, ""); n != 0 {
		t.Errorf("%d PATCH uploads, want none:\n%s", n, reqs)
	}
	if n := reqs.Count(http.MethodPut, "/blobs/uploads/"); n != 0 {
		t.Errorf("%d blob upload PUTs, want none:\n%s", n, reqs)
	}
	if n := reqs.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && !strings.Contains(r.Query, "mount=")
	}); len(n) != 0 {
		t.Errorf("blob uploads opened:\n%s", n)
	}
	puts := reqs.Method(http.MethodPut)
	var byDigest []string
	for _, r := range puts {
		if strings.Contains(r.Path, "/manifests/sha256:") {
			byDigest = append(byDigest, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	slices.Sort(byDigest)
	want := []string{f.srcImgs["linux/amd64"].Digest, f.srcImgs["linux/arm64"].Digest}
	slices.Sort(want)
	if !slices.Equal(byDigest, want) {
		t.Errorf("manifests put by digest %v, want %v:\n%s", byDigest, want, reqs)
	}
	if len(puts) == 0 || !strings.HasSuffix(puts[len(puts)-1].Path, "/manifests/v1") {
		t.Errorf("the list was not written last:\n%s", reqs)
	}
	// Nothing is written to SOURCE's repository.
	if w := mergeWrites(reg.RequestsSince(mark).ForRepo(srcRepo)); len(w) != 0 {
		t.Errorf("writes to SOURCE's repository:\n%s", w)
	}
}

// TestMergeCrossRegistry: case 3, SOURCE in another registry.
func TestMergeCrossRegistry(t *testing.T) {
	reg := plainRegistry(t)
	other := startRegistry(t, harness.RegistryOptions{})
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, other, dstRepo, srcRepo, harness.ListOptions{})
	e := newEnv(t)

	mark, otherMark := reg.Mark(), other.Mark()
	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", other.Ref(srcRepo+":build"), f.dstRef()))
	m, ix := reg.MustGetIndex(t, dstRepo, "v1")
	if printed != m.Digest {
		t.Errorf("printed %s, tag is %s", printed, m.Digest)
	}
	checkMergeImages(t, ix, f.standardResult())
	checkMergeEntriesPresent(t, reg, dstRepo, ix)
	reg.Validate(t, dstRepo+":v1")
	for _, p := range mergeSrcPlatforms {
		got := reg.MustGetManifest(t, dstRepo, f.srcImgs[p].Digest)
		if string(got.Raw) != string(f.srcImgs[p].Raw) {
			t.Errorf("%s copied with different bytes", p)
		}
	}
	reqs := reg.RequestsSince(mark).ForRepo(dstRepo)
	// 2 images × (1 layer + 1 config) uploaded; nothing can be mounted across registries.
	if n := reqs.Count(http.MethodPut, "/blobs/uploads/"); n != 4 {
		t.Errorf("%d blob uploads, want 4:\n%s", n, reqs)
	}
	if w := mergeWrites(other.RequestsSince(otherMark)); len(w) != 0 {
		t.Errorf("writes to SOURCE's registry:\n%s", w)
	}
	if n := other.RequestsSince(otherMark).ForRepo(srcRepo).Count(http.MethodGet, "/blobs/"); n != 4 {
		t.Errorf("%d blob downloads from SOURCE's registry, want 4", n)
	}
}

// TestMergeAttestations: case 4, buildx attestations follow their subject.
func TestMergeAttestations(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{OCI: true, Attestations: true})
	e := newEnv(t)

	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), f.dstRef()))
	m, ix := reg.MustGetIndex(t, dstRepo, "v1")
	if printed != m.Digest {
		t.Errorf("printed %s, tag is %s", printed, m.Digest)
	}
	checkMergeImages(t, ix, f.standardResult())
	reg.Validate(t, dstRepo+":v1")
	atts := map[string]string{} // attestation digest -> subject
	for _, a := range ix.Attestations() {
		atts[a.Digest] = a.Annotations[harness.AnnotationReferenceDigest]
	}
	images := map[string]bool{}
	for _, d := range ix.Images() {
		images[d.Digest] = true
	}
	for a, subject := range atts {
		if !images[subject] {
			t.Errorf("attestation %s refers to %s, which is not in the result", a, subject)
		}
	}
	// PushList: Attestations[i] attests Images[i], in platform order.
	for i, p := range mergeSrcPlatforms {
		if a := f.src.Attestations[i]; atts[a.Digest] != f.srcImgs[p].Digest {
			t.Errorf("SOURCE's attestation of %s (%s) missing", p, a.Digest)
		}
	}
	for i, p := range mergeDstPlatforms {
		a := f.dst.Attestations[i]
		_, kept := atts[a.Digest]
		if replaced := slices.Contains(mergeSrcPlatforms, p); kept == replaced {
			t.Errorf("DESTINATION's attestation of %s (%s): kept=%t, want %t", p, a.Digest, kept, !replaced)
		}
	}
	if len(atts) != 4 {
		t.Errorf("%d attestations, want 4: %v", len(atts), atts)
	}
	checkMergeEntriesPresent(t, reg, dstRepo, ix)
}

// mergePlanJSON is what `--dry-run --format json` prints: the plan every
// write prints, with a merge's detail.
type mergePlanJSON struct {
	SourceDigest string `json:"sourceDigest"`
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Unchanged    bool   `json:"unchanged"`
	Merge        struct {
		DestinationDigest string `json:"destinationDigest"`
		Changes           []struct {
			Platform    string `json:"platform"`
			Action      string `json:"action"`
			Old         string `json:"old"`
			New         string `json:"new"`
			Attestation bool   `json:"attestation"`
		} `json:"changes"`
	} `json:"merge"`
	Manifests []struct {
		Digest string `json:"digest"`
		Action string `json:"action"`
		Source string `json:"source"`
	} `json:"manifests"`
	Blobs []struct {
		Action string `json:"action"`
	} `json:"blobs"`
	Tags []struct {
		Tag string `json:"tag"`
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"tags"`
	Requests int `json:"requests"`
}

// TestMergeDryRun: case 5, --dry-run writes nothing, and its plan is what a
// real merge then does.
func TestMergeDryRun(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{})
	e := newEnv(t)

	mark := reg.Mark()
	table := e.mustMlist(t, "merge", "--dry-run", f.srcRef(), f.dstRef())
	for _, want := range []string{"dry run", "linux/amd64", "replaced", "linux/s390x", "kept", "mount", f.srcImgs["linux/arm64"].Digest} {
		if !strings.Contains(table, want) {
			t.Errorf("dry-run table lacks %q", want)
		}
	}
	out := e.mustMlist(t, "merge", "--dry-run", "--format", "json", f.srcRef(), f.dstRef())
	var plan mergePlanJSON
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	reqs := reg.RequestsSince(mark)
	for _, repo := range []string{dstRepo, srcRepo} {
		if w := mergeWrites(reqs.ForRepo(repo)); len(w) != 0 {
			t.Errorf("--dry-run wrote to %s:\n%s", repo, w)
		}
	}
	if len(reqs.ForRepo(dstRepo)) == 0 {
		t.Errorf("request log shows no read of DESTINATION: the check above proves nothing")
	}
	if d := reg.MustGetManifest(t, dstRepo, "v1").Digest; d != f.dst.Digest {
		t.Errorf("DESTINATION changed by --dry-run: %s, was %s", d, f.dst.Digest)
	}

	if plan.SourceDigest != f.src.Digest || plan.Merge.DestinationDigest != f.dst.Digest || plan.Unchanged {
		t.Errorf("plan: source %s destination %s unchanged %t", plan.SourceDigest, plan.Merge.DestinationDigest, plan.Unchanged)
	}
	actions := map[string]string{}
	for _, c := range plan.Merge.Changes {
		actions[c.Platform] = c.Action
		switch c.Platform {
		case "linux/amd64", "linux/arm64":
			if c.Old != f.dstImgs[c.Platform].Digest || c.New != f.srcImgs[c.Platform].Digest {
				t.Errorf("%s: old %s new %s", c.Platform, c.Old, c.New)
			}
		case "linux/arm/v7", "linux/s390x":
			if c.Old != f.dstImgs[c.Platform].Digest {
				t.Errorf("%s: old %s", c.Platform, c.Old)
			}
		}
	}
	want := map[string]string{"linux/amd64": "replaced", "linux/arm64": "replaced", "linux/arm/v7": "kept", "linux/s390x": "kept"}
	for p, a := range want {
		if actions[p] != a {
			t.Errorf("plan says %s %q, want %q (all: %v)", p, actions[p], a, actions)
		}
	}
	brought := 0
	for _, m := range plan.Manifests {
		if m.Source != "" {
			brought++
			if m.Action != "put" || m.Source != reg.Ref(srcRepo) {
				t.Errorf("manifest %+v, want a put from %s", m, reg.Ref(srcRepo))
			}
		}
	}
	if brought != 2 {
		t.Errorf("%d manifests brought, want 2: %+v", brought, plan.Manifests)
	}
	for _, b := range plan.Blobs {
		if b.Action != "mount" {
			t.Errorf("blob %+v, want a mount", b)
		}
	}

	// The real merge writes exactly the planned list.
	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), f.dstRef()))
	if printed != plan.Digest {
		t.Errorf("merge wrote %s, the dry run planned %s", printed, plan.Digest)
	}
}

// TestMergeUnchanged: case 6, merging the same SOURCE again writes nothing.
func TestMergeUnchanged(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{OCI: true, Attestations: true})
	e := newEnv(t)

	first := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), f.dstRef()))
	if first == f.dst.Digest {
		t.Fatalf("the first merge did not change DESTINATION")
	}
	mark := reg.Mark()
	r := e.mlist("merge", f.srcRef(), f.dstRef())
	second := mergeStdoutDigest(t, mustSucceed(t, r, "second merge"))
	if !strings.Contains(r.Stderr, "unchanged") {
		t.Errorf("stderr does not say unchanged:\n%s", r.Stderr)
	}
	current := reg.MustGetManifest(t, dstRepo, "v1").Digest
	if second != current || first != current {
		t.Errorf("first %s, second %s, tag %s", first, second, current)
	}
	reqs := reg.RequestsSince(mark)
	for _, repo := range []string{dstRepo, srcRepo} {
		if w := mergeWrites(reqs.ForRepo(repo)); len(w) != 0 {
			t.Errorf("unchanged merge wrote to %s:\n%s", repo, w)
		}
	}
	if reqs.ForRepo(dstRepo).Count(http.MethodGet, "/manifests/v1") == 0 {
		t.Errorf("the second merge did not read DESTINATION:\n%s", reqs)
	}
}

// startMergeProxy forwards to a registry and lets a test act when
// DESTINATION's tag is checked right before the list is put: onHead(n) runs,
// before the request is forwarded, for the n-th HEAD of <repo>/manifests/<tag>.
func startMergeProxy(t *testing.T, reg *harness.Registry, repo, tag string, onHead func(n int)) *proxy.Proxy {
	t.Helper()
	var heads atomic.Int32
	p, err := proxy.Start(reg.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && r.URL.Path == "/v2/"+repo+"/manifests/"+tag {
			onHead(int(heads.Add(1)))
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestMergeConcurrentChange: case 7. DESTINATION is pushed again between the
// merge's read and its write (when the merge checks the tag, after bringing
// SOURCE's entries over); the merge must plan again on top of the new
// DESTINATION instead of overwriting it.
func TestMergeConcurrentChange(t *testing.T) {
	reg := plainRegistry(t)

	t.Run("replanned", func(t *testing.T) {
		dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
		f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{})
		ppc := reg.PushImage(t, dstRepo, "ppc", "linux/ppc64le", harness.ImageOptions{})
		var dstImgs []harness.Image
		for _, p := range mergeDstPlatforms {
			dstImgs = append(dstImgs, f.dstImgs[p])
		}
		var concurrent string
		proxy := startMergeProxy(t, reg, dstRepo, "v1", func(n int) {
			if n != 1 {
				return
			}
			l, err := reg.Client().PushList(dstRepo, "v1", append(dstImgs, ppc), harness.ListOptions{})
			if err != nil {
				t.Errorf("concurrent push: %v", err)
			}
			concurrent = l.Digest
		})
		e := newEnv(t)
		r := e.mlist("merge", proxy.Host+"/"+srcRepo+":build", proxy.Host+"/"+dstRepo+":v1")
		printed := mergeStdoutDigest(t, mustSucceed(t, r, "merge"))
		if concurrent == "" {
			t.Fatalf("the merge never checked DESTINATION before writing:\n%s", proxy.Requests())
		}
		if !strings.Contains(r.Stderr, "changed while merging") || !strings.Contains(r.Stderr, concurrent) {
			t.Errorf("stderr does not report the change to %s:\n%s", concurrent, r.Stderr)
		}
		m, ix := reg.MustGetIndex(t, dstRepo, "v1")
		if printed != m.Digest || m.Digest == concurrent {
			t.Errorf("printed %s, tag %s, concurrent push %s", printed, m.Digest, concurrent)
		}
		checkMergeImages(t, ix, map[string]string{
			"linux/amd64":   f.srcImgs["linux/amd64"].Digest,
			"linux/arm64":   f.srcImgs["linux/arm64"].Digest,
			"linux/arm/v7":  f.dstImgs["linux/arm/v7"].Digest,
			"linux/s390x":   f.dstImgs["linux/s390x"].Digest,
			"linux/ppc64le": ppc.Digest, // the concurrent change survives
		})
		reqs := proxy.Requests()
		if n := reqs.Count(http.MethodPut, "/"+dstRepo+"/manifests/v1"); n != 1 {
			t.Errorf("%d PUTs of the tag, want 1:\n%s", n, reqs)
		}
		if n := reqs.Count(http.MethodHead, "/"+dstRepo+"/manifests/v1"); n != 2 {
			t.Errorf("%d HEADs of the tag, want 2 (one per plan):\n%s", n, reqs)
		}
	})

	t.Run("keeps changing", func(t *testing.T) {
		dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
		f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{})
		var dstImgs []harness.Image
		for _, p := range mergeDstPlatforms {
			dstImgs = append(dstImgs, f.dstImgs[p])
		}
		// One new ppc64le image per check, so DESTINATION differs every time.
		var ppcs []harness.Image
		for range 5 {
			ppcs = append(ppcs, reg.PushImage(t, dstRepo, "", "linux/ppc64le", harness.ImageOptions{}))
		}
		var mu sync.Mutex
		var last string
		proxy := startMergeProxy(t, reg, dstRepo, "v1", func(n int) {
			if n > len(ppcs) {
				t.Errorf("HEAD number %d: the merge does not stop", n)
				return
			}
			l, err := reg.Client().PushList(dstRepo, "v1", append(slices.Clone(dstImgs), ppcs[n-1]), harness.ListOptions{})
			if err != nil {
				t.Errorf("concurrent push: %v", err)
			}
			mu.Lock()
			last = l.Digest
			mu.Unlock()
		})
		e := newEnv(t)
		r := e.mlist("merge", proxy.Host+"/"+srcRepo+":build", proxy.Host+"/"+dstRepo+":v1")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "kept changing") {
			t.Errorf("want failure saying DESTINATION kept changing; exit %d:\n%s", r.ExitCode, r.Stderr)
		}
		if strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("stdout should be empty on failure: %q", r.Stdout)
		}
		reqs := proxy.Requests()
		if n := reqs.Count(http.MethodPut, "/"+dstRepo+"/manifests/v1"); n != 0 {
			t.Errorf("the list was written although DESTINATION kept changing:\n%s", reqs)
		}
		mu.Lock()
		defer mu.Unlock()
		if d := reg.MustGetManifest(t, dstRepo, "v1").Digest; d != last {
			t.Errorf("tag is %s, the last concurrent push was %s", d, last)
		}
	})
}

// TestMergePlatforms: case 8, --platforms takes a subset of SOURCE.
func TestMergePlatforms(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{OCI: true, Attestations: true})
	e := newEnv(t)

	mark := reg.Mark()
	e.mlistFails(t, `riscv64`, "merge", "--platforms", "linux/riscv64", f.srcRef(), f.dstRef())
	if w := mergeWrites(reg.RequestsSince(mark).ForRepo(dstRepo)); len(w) != 0 {
		t.Errorf("a failed merge wrote:\n%s", w)
	}
	if d := reg.MustGetManifest(t, dstRepo, "v1").Digest; d != f.dst.Digest {
		t.Errorf("DESTINATION changed by a failed merge")
	}

	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", "--platforms", "linux/arm64", f.srcRef(), f.dstRef()))
	m, ix := reg.MustGetIndex(t, dstRepo, "v1")
	if printed != m.Digest {
		t.Errorf("printed %s, tag is %s", printed, m.Digest)
	}
	checkMergeImages(t, ix, map[string]string{
		"linux/amd64":  f.dstImgs["linux/amd64"].Digest,
		"linux/arm64":  f.srcImgs["linux/arm64"].Digest,
		"linux/arm/v7": f.dstImgs["linux/arm/v7"].Digest,
		"linux/s390x":  f.dstImgs["linux/s390x"].Digest,
	})
	// SOURCE's amd64 entry and its attestation were not taken.
	for _, d := range ix.Manifests {
		if d.Digest == f.srcImgs["linux/amd64"].Digest || d.Digest == f.src.Attestations[0].Digest {
			t.Errorf("SOURCE's amd64 entry %s taken despite --platforms linux/arm64", d.Digest)
		}
	}
	checkMergeEntriesPresent(t, reg, dstRepo, ix)
}

// TestMergeMatchArch: case 9, --match arch against the default full platform.
func TestMergeMatchArch(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	src := reg.PushImage(t, repo, "linux", "linux/amd64", harness.ImageOptions{})
	win := reg.PushImage(t, repo, "", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.1234"})
	arm := reg.PushImage(t, repo, "", "linux/arm64", harness.ImageOptions{})
	dst := reg.PushList(t, repo, "v1", []harness.Image{win, arm}, harness.ListOptions{})
	reg.PushList(t, repo, "v2", []harness.Image{win, arm}, harness.ListOptions{})
	e := newEnv(t)

	// Default: windows/amd64 and linux/amd64 are different platforms.
	printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", reg.Ref(repo+":linux"), reg.Ref(repo+":v1")))
	m, ix := reg.MustGetIndex(t, repo, "v1")
	if printed != m.Digest || m.Digest == dst.Digest {
		t.Errorf("printed %s, tag %s, before %s", printed, m.Digest, dst.Digest)
	}
	checkMergeImages(t, ix, map[string]string{"linux/amd64": src.Digest, "windows/amd64": win.Digest, "linux/arm64": arm.Digest})

	// --match arch: linux/amd64 replaces windows/amd64.
	printed = mergeStdoutDigest(t, e.mustMlist(t, "merge", "--match", "arch", reg.Ref(repo+":linux"), reg.Ref(repo+":v2")))
	m, ix = reg.MustGetIndex(t, repo, "v2")
	if printed != m.Digest {
		t.Errorf("printed %s, tag %s", printed, m.Digest)
	}
	checkMergeImages(t, ix, map[string]string{"linux/amd64": src.Digest, "linux/arm64": arm.Digest})
	for _, d := range ix.Manifests {
		if d.Platform != nil && d.Platform.OS == "windows" {
			t.Errorf("windows entry kept with --match arch: %+v", d)
		}
	}

	// DESTINATION with linux/amd64 and windows/amd64: a linux/amd64 SOURCE
	// replaces both, and the dry-run plan says so.
	old := reg.PushImage(t, repo, "", "linux/amd64", harness.ImageOptions{})
	reg.PushList(t, repo, "v3", []harness.Image{old, win, arm}, harness.ListOptions{})
	var plan mergePlanJSON
	out := e.mustMlist(t, "merge", "--match", "arch", "--dry-run", "--format", "json", reg.Ref(repo+":linux"), reg.Ref(repo+":v3"))
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	replaced := map[string]bool{}
	for _, c := range plan.Merge.Changes {
		if c.Action == "replaced" && c.New == src.Digest {
			replaced[c.Old] = true
		}
	}
	if !replaced[old.Digest] || !replaced[win.Digest] || len(replaced) != 2 {
		t.Errorf("dry-run plan replaces %v, want linux/amd64 %s and windows/amd64 %s:\n%s", replaced, old.Digest, win.Digest, out)
	}
	table := e.mustMlist(t, "merge", "--match", "arch", "--dry-run", reg.Ref(repo+":linux"), reg.Ref(repo+":v3"))
	if !strings.Contains(table, "windows/amd64:10.0.17763.1234 → linux/amd64") {
		t.Errorf("dry-run table does not show windows/amd64 replaced by linux/amd64:\n%s", table)
	}
	printed = mergeStdoutDigest(t, e.mustMlist(t, "merge", "--match", "arch", reg.Ref(repo+":linux"), reg.Ref(repo+":v3")))
	m, ix = reg.MustGetIndex(t, repo, "v3")
	if printed != m.Digest || printed != plan.Digest {
		t.Errorf("printed %s, tag %s, planned %s", printed, m.Digest, plan.Digest)
	}
	checkMergeImages(t, ix, map[string]string{"linux/amd64": src.Digest, "linux/arm64": arm.Digest})
}

// TestMergeMissing: case 10, a missing DESTINATION or SOURCE.
func TestMergeMissing(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{OCI: true, Attestations: true})
	e := newEnv(t)

	t.Run("destination", func(t *testing.T) {
		printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), reg.Ref(dstRepo+":new")))
		m := reg.MustGetManifest(t, dstRepo, "new")
		if printed != f.src.Digest || m.Digest != f.src.Digest || string(m.Raw) != string(f.src.Raw) {
			t.Errorf("printed %s, tag %s; want SOURCE's list %s byte for byte", printed, m.Digest, f.src.Digest)
		}
		ix, err := m.Index()
		if err != nil {
			t.Fatal(err)
		}
		checkMergeEntriesPresent(t, reg, dstRepo, ix)
	})

	t.Run("source", func(t *testing.T) {
		mark := reg.Mark()
		r := e.mlistFails(t, `(?i)not found|unknown|no such|does not exist`, "merge", reg.Ref(srcRepo+":nope"), f.dstRef())
		if !strings.Contains(r.Stderr, "nope") {
			t.Errorf("error does not name the missing SOURCE:\n%s", r.Stderr)
		}
		if w := mergeWrites(reg.RequestsSince(mark).ForRepo(dstRepo)); len(w) != 0 {
			t.Errorf("a merge with a missing SOURCE wrote:\n%s", w)
		}
		if d := reg.MustGetManifest(t, dstRepo, "v1").Digest; d != f.dst.Digest {
			t.Errorf("DESTINATION changed")
		}
	})
}

// TestMergeCreds: case 11, --src-creds/--dest-creds without docker login.
func TestMergeCreds(t *testing.T) {
	reg := authRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{})
	const wrong = "Wr0ng-e2e-pass"

	t.Run("no creds", func(t *testing.T) {
		e := newEnv(t)
		e.mlistFails(t, `(?i)unauthori|denied|401|auth`, "merge", f.srcRef(), f.dstRef())
	})

	// refused checks a merge that a wrong password stopped: no password in
	// the output, DESTINATION untouched.
	refused := func(t *testing.T, r result) {
		t.Helper()
		if strings.Contains(r.Combined(), wrong) || strings.Contains(r.Combined(), testPassword) {
			t.Errorf("a password appears in the output:\n%s", r.Combined())
		}
		if d := reg.MustGetManifest(t, dstRepo, "v1").Digest; d != f.dst.Digest {
			t.Errorf("DESTINATION changed")
		}
	}

	t.Run("wrong dest password", func(t *testing.T) {
		e := newEnv(t)
		r := e.mlistFails(t, reg.Host, "merge", "--src-creds", testUser+":"+testPassword, "--dest-creds", testUser+":"+wrong, f.srcRef(), f.dstRef())
		refused(t, r)
	})

	t.Run("wrong src password from env", func(t *testing.T) {
		e := newEnv(t)
		e.setenv("DOCKER_MLIST_SRC_PASSWORD", wrong)
		r := e.mlistFails(t, reg.Host, "merge", "--src-creds", testUser, "--dest-creds", testUser+":"+testPassword, f.srcRef(), f.dstRef())
		refused(t, r)
	})

	t.Run("works", func(t *testing.T) {
		e := newEnv(t)
		e.setenv("DOCKER_MLIST_DEST_PASSWORD", testPassword)
		r := e.mlist("merge", "--src-creds", testUser+":"+testPassword, "--dest-creds", testUser, f.srcRef(), f.dstRef())
		printed := mergeStdoutDigest(t, mustSucceed(t, r, "merge with creds"))
		if strings.Contains(r.Combined(), testPassword) {
			t.Errorf("the password appears in the output")
		}
		m, ix := reg.MustGetIndex(t, dstRepo, "v1")
		if printed != m.Digest {
			t.Errorf("printed %s, tag %s", printed, m.Digest)
		}
		checkMergeImages(t, ix, f.standardResult())
		checkMergeEntriesPresent(t, reg, dstRepo, ix)
		if _, ok := e.readConfig(t)["auths"]; ok {
			t.Errorf("config.json gained auths: the merge must not log in")
		}
	})
}

// TestMergeEnginePull: case 12, the engine pulls every platform of the
// merged list: SOURCE's images where it replaced, DESTINATION's where kept.
func TestMergeEnginePull(t *testing.T) {
	requireEngine(t)
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	f := pushMergeFixture(t, reg, reg, dstRepo, srcRepo, harness.ListOptions{})
	e := newEnv(t)
	merged := mergeStdoutDigest(t, e.mustMlist(t, "merge", f.srcRef(), f.dstRef()))

	top, imgs := checkEnginePulls(t, e, reg, dstRepo, f.dstTag)
	if top != merged {
		t.Errorf("the engine pulled %s, the merge printed %s", top, merged)
	}
	got := map[string]string{}
	for _, img := range imgs {
		got[img.Platform] = img.Manifest
	}
	if want := f.standardResult(); !maps.Equal(got, want) {
		t.Errorf("the engine pulled %v, want %v", got, want)
	}
}
