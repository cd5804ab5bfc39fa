package e2e

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 17, items 5 to 8: what local transports hold is described as it
// is (layers of a docker-archive, foreign layers), referrers travel to and
// from OCI layouts, and verify --deep sees every level of nested indexes.

// TestVerifyDeepNested: an image missing from the inner index of a nested
// index (a grandchild of the tag) is reported by verify --deep, named with
// the lists above it, exit 1; without --deep the top entries are present
// and verify passes.
func TestVerifyDeepNested(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64", "linux/s390x")
	inner := putIndex(t, reg, repo, "inner", imgs[1].Descriptor(), imgs[2].Descriptor())
	innerDesc := reg.MustGetManifest(t, repo, inner)
	middle := putIndex(t, reg, repo, "middle", harness.Descriptor{MediaType: harness.MediaTypeOCIIndex, Digest: inner, Size: int64(len(innerDesc.Raw))})
	middleDesc := reg.MustGetManifest(t, repo, middle)
	putIndex(t, reg, repo, "nested", imgs[0].Descriptor(), harness.Descriptor{MediaType: harness.MediaTypeOCIIndex, Digest: middle, Size: int64(len(middleDesc.Raw))})
	if status, err := reg.Client().DeleteManifest(repo, imgs[2].Digest); err != nil || status != http.StatusAccepted {
		t.Fatalf("delete %s: %d %v", imgs[2].Digest, status, err)
	}

	r := e.mlist("verify", "--deep", reg.Ref(repo+":nested"))
	if r.ExitCode != 1 {
		t.Fatalf("verify --deep: exit %d, want 1\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	want := "entry linux/s390x (" + imgs[2].Digest + ") of nested list " + inner + " of nested list " + middle + ": manifest not in " + reg.Host + "/" + repo
	if got := strings.TrimRight(r.Stdout, "\n"); got != want {
		t.Errorf("verify --deep printed\n%s\nwant\n%s", got, want)
	}
	if r := e.mlist("verify", reg.Ref(repo+":nested")); r.ExitCode != 0 {
		t.Errorf("verify without --deep: exit %d\n%s", r.ExitCode, r.Stdout)
	}
}

// TestDockerArchiveLayersDescribed: the layers of a docker save archive are
// uncompressed tars; copied to a registry, an OCI layout or an OCI archive
// they are gzip-compressed (as skopeo does) and described as what they now
// are, each result passing go-containerregistry's validate; the image config
// (and so the image ID and diffIDs) is unchanged. Back from the registry
// into a docker-archive, the archive validates too and, where an engine
// answers, docker load reads it.
func TestDockerArchiveLayersDescribed(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	dir := t.TempDir()
	saved, err := harness.WriteDockerSave(filepath.Join(dir, "saved.tar"), "mlist-e2e/saved:1", "linux/arm64", 2)
	if err != nil {
		t.Fatal(err)
	}
	src := "docker-archive:" + filepath.Join(dir, "saved.tar")

	d := mustCopy(t, e, src, reg.Ref(repo+":v1"))
	m := reg.MustGetManifest(t, repo, "v1")
	im, err := m.ImageManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != d || im.Config.Digest != saved.Config {
		t.Errorf("registry holds %s with config %s; copy printed %s, the archive's config is %s", m.Digest, im.Config.Digest, d, saved.Config)
	}
	for i, l := range im.Layers {
		if l.MediaType != harness.MediaTypeDockerLayer || l.Digest == saved.DiffIDs[i] {
			t.Errorf("layer %d: %s %s, want gzip-compressed (%s), not the uncompressed diffID %s", i, l.MediaType, l.Digest, harness.MediaTypeDockerLayer, saved.DiffIDs[i])
		}
	}
	harness.Validate(t, reg.Ref(repo+":v1"))

	layout := filepath.Join(dir, "layout")
	mustCopy(t, e, src, "oci:"+layout+":v1")
	harness.Validate(t, "oci:"+layout+":v1")
	mustCopy(t, e, src, "oci-archive:"+filepath.Join(dir, "oci.tar")+":v1")
	harness.Validate(t, "oci-archive:"+filepath.Join(dir, "oci.tar")+":v1")
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "docker-mlist-layers-*")); len(left) > 0 {
		t.Errorf("compressed layers left in the temp dir: %v", left)
	}

	back := filepath.Join(dir, "back.tar")
	mustCopy(t, e, reg.Ref(repo+":v1"), "docker-archive:"+back+":mlist-e2e/back:1")
	harness.Validate(t, "docker-archive:"+back)
	if !engineAvailable(t) {
		t.Log("no Docker engine answers: docker load of the archive not tried")
		return
	}
	out, err := exec.Command("docker", "load", "-i", back).CombinedOutput()
	if err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	t.Logf("docker load: %s", strings.TrimSpace(string(out)))
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "mlist-e2e/back:1").Run() })
	id, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", "mlist-e2e/back:1").Output()
	if err != nil || strings.TrimSpace(string(id)) != saved.Config {
		t.Errorf("docker image inspect: %v, id %q, want the config digest %s", err, id, saved.Config)
	}
}

// foreignServer serves one foreign layer at /layer on another loopback
// address than the registries', counting requests and every Authorization
// header it is sent.
type foreignServer struct {
	*httptest.Server
	mu       sync.Mutex
	layer    []byte
	requests int
	auth     []string
}

func startForeignServer(t *testing.T) *foreignServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	f := &foreignServer{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		if a := r.Header.Get("Authorization"); a != "" {
			f.auth = append(f.auth, a)
		}
		layer := f.layer
		f.mu.Unlock()
		if r.URL.Path != "/layer" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(layer)
	}))
	f.Listener.Close()
	f.Listener = l
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func (f *foreignServer) serve(layer []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.layer = layer
}

func (f *foreignServer) seen() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, slices.Clone(f.auth)
}

// TestForeignLayersToDockerArchive: an image whose base layer is foreign
// (named by URL, not in the registry) goes into a docker-archive with that
// layer fetched from its URL alone: one GET there, without any
// Authorization header although config.json holds credentials for both the
// registry and the URL's host; the archive validates and docker load reads
// it where an engine answers. Into an OCI layout the layer stays foreign
// and is not fetched. A URL that does not serve it fails the copy with one
// line naming the layer, and no archive is left.
func TestForeignLayersToDockerArchive(t *testing.T) {
	reg := startRegistry(t, harness.RegistryOptions{Htpasswd: map[string]string{testUser: testPassword}, ForeignURLs: true})
	e := newEnv(t)
	srv := startForeignServer(t)
	e.login(t, reg.Host, testUser, testPassword)
	e.login(t, strings.TrimPrefix(srv.URL, "http://"), testUser, testPassword)
	repo := testRepo(t, "app")
	_, layer, err := reg.Client().PushForeignImage(repo, "v1", "linux/amd64", srv.URL+"/layer")
	if err != nil {
		t.Fatal(err)
	}
	srv.serve(layer)
	dir := t.TempDir()

	layout := filepath.Join(dir, "layout")
	mustCopy(t, e, reg.Ref(repo+":v1"), "oci:"+layout+":v1")
	if n, _ := srv.seen(); n != 0 {
		t.Errorf("a copy into an OCI layout fetched the foreign layer (%d requests)", n)
	}

	archive := filepath.Join(dir, "app.tar")
	// A dry run says the layer is to be fetched, and fetches nothing.
	im, err := reg.MustGetManifest(t, repo, "v1").ImageManifest()
	if err != nil {
		t.Fatal(err)
	}
	plan := e.mustMlist(t, "copy", "--dry-run", reg.Ref(repo+":v1"), "docker-archive:"+archive)
	if !regexpMatch(`(?m)^fetch\s+blob\s+`+im.Layers[0].Digest+`\s`, plan) {
		t.Errorf("the dry run does not plan to fetch %s:\n%s", im.Layers[0].Digest, plan)
	}
	if n, _ := srv.seen(); n != 0 {
		t.Errorf("a dry run fetched the foreign layer (%d requests)", n)
	}
	mustCopy(t, e, reg.Ref(repo+":v1"), "docker-archive:"+archive+":mlist-e2e/foreign:1")
	if n, auth := srv.seen(); n != 1 || len(auth) != 0 {
		t.Errorf("the foreign layer's server saw %d requests (want 1) and Authorization headers %q (want none)", n, auth)
	}
	harness.Validate(t, "docker-archive:"+archive)
	if engineAvailable(t) {
		out, err := exec.Command("docker", "load", "-i", archive).CombinedOutput()
		if err != nil {
			t.Errorf("docker load: %v\n%s", err, out)
		} else {
			t.Logf("docker load: %s", strings.TrimSpace(string(out)))
			t.Cleanup(func() { _ = exec.Command("docker", "rmi", "mlist-e2e/foreign:1").Run() })
		}
	} else {
		t.Log("no Docker engine answers: docker load of the archive not tried")
	}

	// The same kind of image, its URL serving nothing.
	gone, _, err := reg.Client().PushForeignImage(repo, "gone", "linux/amd64", srv.URL+"/missing")
	if err != nil {
		t.Fatal(err)
	}
	im, err = reg.MustGetManifest(t, repo, gone.Digest).ImageManifest()
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.tar")
	r := e.mlistFails(t, `blob `+im.Layers[0].Digest+` from foreign layer URL `+srv.URL+`/missing: 404 Not Found`, "copy", reg.Ref(repo+":gone"), "docker-archive:"+missing)
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
		t.Errorf("stderr is %d lines, want one:\n%s", len(lines), r.Stderr)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed copy left %s (%v)", missing, err)
	}
}

// layoutNames reads the names index.json of the OCI layout in dir gives
// its manifests.
func layoutNames(t testing.TB, dir string) map[string]harness.Descriptor {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ix harness.Index
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatalf("index.json: %v\n%s", err, raw)
	}
	out := map[string]harness.Descriptor{}
	for _, d := range ix.Manifests {
		out[d.Annotations[refNameAnnotation]] = d
	}
	return out
}

// checkLayoutReferrers fails t unless the layout in dir holds, as regctl's
// ocidir does, an OCI index named sha256-<hex of subject> listing exactly
// want, and every manifest of want byte for byte as src/srcRepo serves it.
func checkLayoutReferrers(t testing.TB, dir string, src *harness.Registry, srcRepo, subject string, want ...harness.Descriptor) {
	t.Helper()
	d, ok := layoutNames(t, dir)[referrersTag(subject)]
	if !ok {
		t.Errorf("the layout names no referrers index %s", referrersTag(subject))
		return
	}
	blob := func(dg string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", sha256Hex(dg)))
		if err != nil {
			t.Errorf("manifest %s missing from the layout: %v", dg, err)
		}
		return b
	}
	var ix harness.Index
	if err := json.Unmarshal(blob(d.Digest), &ix); err != nil || d.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("referrers index %s: %s, %v", referrersTag(subject), d.MediaType, err)
	}
	var got, wantDigests []string
	for _, m := range ix.Manifests {
		got = append(got, m.Digest)
	}
	for _, w := range want {
		wantDigests = append(wantDigests, w.Digest)
		if string(blob(w.Digest)) != string(src.MustGetManifest(t, srcRepo, w.Digest).Raw) {
			t.Errorf("referrer %s: the layout holds other bytes than the source", w.Digest)
		}
	}
	slices.Sort(got)
	slices.Sort(wantDigests)
	if !slices.Equal(got, wantDigests) {
		t.Errorf("referrers index of %s lists %v, want %v", subject, got, wantDigests)
	}
}

// TestCopyReferrersThroughLayouts: copy --referrers takes a list's
// referrers (a signature of the list, an SBOM of one image, both in
// tag-schema indexes, and a cosign .sig tag) from a registry into an oci:
// layout and an oci-archive:, where they are kept as regctl's ocidir keeps
// them (an index named sha256-<hex> per subject, the cosign tag as a name),
// and from each back into another registry, where they arrive byte for
// byte with an index per subject. The image itself validates in the layout.
func TestCopyReferrersThroughLayouts(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	srcRepo := testRepo(t, "src")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
	listDesc := harness.Descriptor{MediaType: list.MediaType, Digest: list.Digest, Size: int64(len(list.Raw))}
	img := list.Images[0]
	sig := pushArtifact(t, src, srcRepo, listDesc, notationSig, "signature of the list")
	sbom := pushArtifact(t, src, srcRepo, img.Descriptor(), spdxSBOM, `{"spdxVersion":"SPDX-2.3"}`)
	putReferrersIndex(t, src, srcRepo, list.Digest, sig)
	putReferrersIndex(t, src, srcRepo, img.Digest, sbom)
	cosign, err := src.Client().PushCosignArtifact(srcRepo, list.Digest, ".sig")
	if err != nil {
		t.Fatal(err)
	}

	// A docker-archive holds no referrers: refused before anything is written.
	none := filepath.Join(t.TempDir(), "app.tar")
	r := e.mlistFails(t, `^copy .*: --referrers: docker-archive:`+regexp.QuoteMeta(none)+` holds no referrers; registries, oci: and oci-archive: layouts do\n$`,
		"copy", "--referrers", "--platform", "linux/amd64", src.Ref(srcRepo+":v1"), "docker-archive:"+none)
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused copy wrote %s (%v); stderr %s", none, err, r.Stderr)
	}

	for _, transport := range []string{"oci", "oci-archive"} {
		t.Run(transport, func(t *testing.T) {
			dir := t.TempDir()
			layout := filepath.Join(dir, "layout")
			at := "oci:" + layout + ":v1"
			if transport == "oci-archive" {
				at = "oci-archive:" + filepath.Join(dir, "app.tar") + ":v1"
			}
			r := e.mlist("copy", "--referrers", src.Ref(srcRepo+":v1"), at)
			if out := mustSucceed(t, r, "copy --referrers to "+transport); strings.TrimSpace(out) != list.Digest {
				t.Errorf("copy printed %q, want %s", out, list.Digest)
			}
			if strings.Contains(r.Stderr, "WARNING") {
				t.Errorf("copy warned:\n%s", r.Stderr)
			}
			if transport == "oci-archive" {
				layout = untar(t, filepath.Join(dir, "app.tar"))
			}
			checkLayoutReferrers(t, layout, src, srcRepo, list.Digest, sig)
			checkLayoutReferrers(t, layout, src, srcRepo, img.Digest, sbom)
			if d, ok := layoutNames(t, layout)[harness.CosignTag(list.Digest, ".sig")]; !ok || d.Digest != cosign {
				t.Errorf("the layout names %s as %+v, want the cosign signature %s", harness.CosignTag(list.Digest, ".sig"), d, cosign)
			}
			harness.Validate(t, at)

			dstRepo := testRepo(t, "dst-"+transport)
			r = e.mlist("copy", "--referrers", at, dst.Ref(dstRepo+":v1"))
			if out := mustSucceed(t, r, "copy --referrers from "+transport); strings.TrimSpace(out) != list.Digest {
				t.Errorf("copy printed %q, want %s", out, list.Digest)
			}
			if strings.Contains(r.Stderr, "WARNING") {
				t.Errorf("copy warned:\n%s", r.Stderr)
			}
			checkCopied(t, src, srcRepo, dst, dstRepo, harness.Index{Manifests: []harness.Descriptor{sig, sbom}})
			checkReferrersIndex(t, dst, dstRepo, list.Digest, sig)
			checkReferrersIndex(t, dst, dstRepo, img.Digest, sbom)
			if m := dst.GetManifest(t, dstRepo, harness.CosignTag(list.Digest, ".sig")); m.Digest != cosign {
				t.Errorf("%s/%s:%s is %q (status %d), want the cosign signature %s", dst.Host, dstRepo, harness.CosignTag(list.Digest, ".sig"), m.Digest, m.Status, cosign)
			}

			if transport != "oci" {
				return
			}
			// Into a layout that lists referrers already: its index keeps
			// them (the signature, which this source no longer lists) and
			// gains the new one.
			vex := pushArtifact(t, dst, dstRepo, listDesc, openVEX, "vex written at the destination")
			putReferrersIndex(t, dst, dstRepo, list.Digest, vex)
			mustCopy(t, e, "--referrers", dst.Ref(dstRepo+":v1"), at)
			checkLayoutReferrers(t, layout, dst, dstRepo, list.Digest, sig, vex)
			checkLayoutReferrers(t, layout, src, srcRepo, img.Digest, sbom)
		})
	}
}

// TestCopyReferrersAPIThroughLayout: referrers a registry lists through
// the OCI referrers API (go-containerregistry's registry) reach an oci:
// layout as a sha256-<hex> index, and from it another registry with the
// API, whose referrers API then lists them (it indexes them from their
// subject; no tag-schema index is written there).
func TestCopyReferrersAPIThroughLayout(t *testing.T) {
	src := startRegistry(t, harness.RegistryOptions{Impl: harness.ImplGGCR})
	dst := startRegistry(t, harness.RegistryOptions{Impl: harness.ImplGGCR})
	e := newEnv(t)
	img := src.PushImage(t, "app", "v1", "linux/amd64", harness.ImageOptions{OCI: true})
	sig := pushArtifact(t, src, "app", img.Descriptor(), notationSig, "signature")
	if status, ix, err := src.Client().Referrers("app", img.Digest); err != nil || status != http.StatusOK || len(ix.Manifests) != 1 {
		t.Fatalf("the source's referrers API: %d %v %+v", status, err, ix)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	mustCopy(t, e, "--referrers", src.Ref("app:v1"), "oci:"+layout+":v1")
	checkLayoutReferrers(t, layout, src, "app", img.Digest, sig)

	mustCopy(t, e, "--referrers", "oci:"+layout+":v1", dst.Ref("app:v1"))
	status, ix, err := dst.Client().Referrers("app", img.Digest)
	// (go-containerregistry's registry reports the config's media type as
	// the artifact type; only the digest is compared.)
	if err != nil || status != http.StatusOK || len(ix.Manifests) != 1 || ix.Manifests[0].Digest != sig.Digest {
		t.Errorf("the destination's referrers API: %d %v %+v, want %s", status, err, ix, sig.Digest)
	}
	if m := dst.GetManifest(t, "app", sig.Digest); string(m.Raw) != string(src.MustGetManifest(t, "app", sig.Digest).Raw) {
		t.Errorf("the destination serves other bytes for %s (status %d)", sig.Digest, m.Status)
	}
	if m := dst.GetManifest(t, "app", referrersTag(img.Digest)); m.Status != http.StatusNotFound {
		t.Errorf("a tag-schema index was written where the referrers API is (status %d)", m.Status)
	}
}

// TestCopyReferrersFromORASLayout: a layout holding a referrer as ORAS
// does (an unnamed index.json entry whose manifest has the subject, no
// sha256-<hex> index) gives it to copy --referrers, which writes it to the
// registry with a tag-schema index listing it.
func TestCopyReferrersFromORASLayout(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	img := src.PushImage(t, srcRepo, "v1", "linux/amd64", harness.ImageOptions{OCI: true})
	sig := pushArtifact(t, src, srcRepo, img.Descriptor(), notationSig, "signature kept the ORAS way")
	layout := filepath.Join(t.TempDir(), "layout")
	mustCopy(t, e, src.Ref(srcRepo+":v1"), "oci:"+layout+":v1")

	// The artifact's manifest and blobs into the layout, and an unnamed
	// entry for it in index.json.
	m := src.MustGetManifest(t, srcRepo, sig.Digest)
	im, err := m.ImageManifest()
	if err != nil {
		t.Fatal(err)
	}
	write := func(dg string, b []byte) {
		if err := os.WriteFile(filepath.Join(layout, "blobs", "sha256", sha256Hex(dg)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(sig.Digest, m.Raw)
	for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
		data, err := src.Client().GetBlob(srcRepo, b.Digest)
		if err != nil {
			t.Fatal(err)
		}
		write(b.Digest, data)
	}
	raw, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ix harness.Index
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatal(err)
	}
	ix.Manifests = append(ix.Manifests, harness.Descriptor{MediaType: harness.MediaTypeOCIManifest, Digest: sig.Digest, Size: sig.Size, ArtifactType: notationSig})
	if raw, err = json.Marshal(ix); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layout, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.mlist("copy", "--referrers", "oci:"+layout+":v1", dst.Ref(dstRepo+":v1"))
	mustSucceed(t, r, "copy --referrers")
	if strings.Contains(r.Stderr, "WARNING") {
		t.Errorf("copy warned:\n%s", r.Stderr)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, harness.Index{Manifests: []harness.Descriptor{sig}})
	checkReferrersIndex(t, dst, dstRepo, img.Digest, sig)
}
