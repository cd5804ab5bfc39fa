package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// The copy command of issue 4, between two registry processes, within one,
// and through OCI layouts and archives, checked by what the registries hold
// and by their request logs.

// copyPlatforms are the platforms of the usual 4-platform source list.
var copyPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"}

// copyDigestRE is what `docker mlist copy` prints on stdout: the digest alone.
var copyDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// copyDestRegistry is a second plain registry process shared by the copy
// tests, so that copies cross registries.
func copyDestRegistry(t testing.TB) *harness.Registry {
	return sharedRegistry(t, "copy-dest", harness.RegistryOptions{DeleteEnabled: true})
}

// mustCopy runs `docker mlist copy args...`, checks that stdout is the digest
// alone and returns it.
func mustCopy(t testing.TB, e *env, args ...string) string {
	t.Helper()
	out := e.mustMlist(t, append([]string{"copy"}, args...)...)
	if !copyDigestRE.MatchString(out) {
		t.Fatalf("copy printed %q on stdout, want the digest alone", out)
	}
	return strings.TrimSpace(out)
}

// pushCopySource pushes one image per platform and a list of them as
// repo:tag.
func pushCopySource(t testing.TB, reg *harness.Registry, repo, tag string, imgOpts harness.ImageOptions, lo harness.ListOptions, platforms ...string) harness.List {
	t.Helper()
	imgs := reg.PushImages(t, repo, "img", imgOpts, platforms...)
	return reg.PushList(t, repo, tag, imgs, lo)
}

// writes keeps the requests that change a registry.
func writes(rs harness.Requests) harness.Requests {
	return rs.Filter(func(r harness.Request) bool {
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
			return true
		}
		return false
	})
}

// notPing drops the GET /v2/ version checks.
func notPing(rs harness.Requests) harness.Requests {
	return rs.Filter(func(r harness.Request) bool { return r.Path != "/v2/" })
}

// checkCopied fails t unless every entry of the list ix is served by digest
// from dst/dstRepo with the bytes src/srcRepo serves, and every blob of every
// entry is in dstRepo.
func checkCopied(t testing.TB, src *harness.Registry, srcRepo string, dst *harness.Registry, dstRepo string, ix harness.Index) {
	t.Helper()
	for _, d := range ix.Manifests {
		got := dst.GetManifest(t, dstRepo, d.Digest)
		if got.Status != http.StatusOK {
			t.Errorf("entry %s (%v): %s/%s@%s answered %d", d.Digest, d.Platform, dst.Host, dstRepo, d.Digest, got.Status)
			continue
		}
		if want := src.MustGetManifest(t, srcRepo, d.Digest); string(got.Raw) != string(want.Raw) {
			t.Errorf("entry %s: destination serves other bytes than the source", d.Digest)
		}
		if harness.Digest(got.Raw) != d.Digest {
			t.Errorf("entry %s: served bytes hash to %s", d.Digest, harness.Digest(got.Raw))
		}
		im, err := got.ImageManifest()
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
			if !dst.BlobExists(t, dstRepo, b.Digest) {
				t.Errorf("entry %s: blob %s missing in %s/%s", d.Digest, b.Digest, dst.Host, dstRepo)
			}
		}
	}
}

// TestCopy: cases 1 and 2. A 4-platform list copied to another registry
// arrives byte-identical with every child and blob; copying it again writes
// nothing and makes only HEAD requests.
func TestCopy(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, copyPlatforms...)
	e := newEnv(t)
	from, to := src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1")

	dstMark := dst.Mark()
	d := mustCopy(t, e, from, to)
	if d != list.Digest {
		t.Errorf("copy printed %s, the source list is %s", d, list.Digest)
	}
	m, ix := dst.MustGetIndex(t, dstRepo, "v1")
	if m.Digest != list.Digest || string(m.Raw) != string(list.Raw) || m.MediaType != list.MediaType {
		t.Errorf("destination holds %s %s, want the source's %s %s byte for byte", m.MediaType, m.Digest, list.MediaType, list.Digest)
	}
	if got := ix.Platforms(); !slices.Equal(got, copyPlatforms) {
		t.Errorf("destination platforms %v, want %v", got, copyPlatforms)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)
	dst.Validate(t, dstRepo+":v1")
	// 4 images x (config + 2 layers) uploaded, 4 images and the list put.
	reqs := dst.RequestsSince(dstMark).ForRepo(dstRepo)
	if n := reqs.Count(http.MethodPut, "/blobs/uploads/"); n != 12 {
		t.Errorf("%d blob uploads completed, want 12:\n%s", n, reqs)
	}
	if n := reqs.Count(http.MethodPut, "/manifests/"); n != 5 {
		t.Errorf("%d manifest PUTs, want 5:\n%s", n, reqs)
	}

	t.Run("again", func(t *testing.T) {
		srcMark, dstMark := src.Mark(), dst.Mark()
		if d := mustCopy(t, e, from, to); d != list.Digest {
			t.Errorf("second copy printed %s, want %s", d, list.Digest)
		}
		dstReqs, srcReqs := dst.RequestsSince(dstMark), src.RequestsSince(srcMark)
		if w := writes(dstReqs); len(w) > 0 {
			t.Errorf("the second copy wrote to the destination:\n%s", w)
		}
		for side, rs := range map[string]harness.Requests{"destination": notPing(dstReqs), "source": notPing(srcReqs.ForRepo(srcRepo))} {
			if len(rs) == 0 {
				t.Errorf("%s: no request at all; want the tag checked with HEAD", side)
			}
			if other := rs.Filter(func(r harness.Request) bool { return r.Method != http.MethodHead }); len(other) > 0 {
				t.Errorf("%s: the second copy made requests other than HEAD:\n%s", side, other)
			}
		}
	})
}

// TestCopyPlatforms: case 3. --platform writes a list of just those
// platforms, with their attestations, every entry fetchable; a platform the
// source lacks is an error before anything is written.
func TestCopyPlatforms(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true, Attestations: true}, copyPlatforms...)
	e := newEnv(t)
	from := src.Ref(srcRepo + ":v1")

	d := mustCopy(t, e, "--platform", "linux/amd64,linux/arm64", from, dst.Ref(dstRepo+":slim"))
	m, ix := dst.MustGetIndex(t, dstRepo, "slim")
	if m.Digest != d || harness.Digest(m.Raw) != d {
		t.Errorf("copy printed %s, the destination holds %s", d, m.Digest)
	}
	if d == list.Digest {
		t.Errorf("a 2-platform subset has the digest of the 4-platform source")
	}
	if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("destination platforms %v, want %v", got, want)
	}
	kept := map[string]bool{}
	for _, img := range list.Images[:2] {
		kept[img.Digest] = true
	}
	atts := ix.Attestations()
	if len(atts) != 2 {
		t.Errorf("%d attestation entries, want those of the 2 kept platforms:\n%s", len(atts), m.Raw)
	}
	for _, a := range atts {
		if !kept[a.Annotations[harness.AnnotationReferenceDigest]] {
			t.Errorf("attestation %s attests %s, not a kept image", a.Digest, a.Annotations[harness.AnnotationReferenceDigest])
		}
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)
	dst.Validate(t, dstRepo+":slim")
	for i, img := range list.Images[2:] {
		for _, dg := range []string{img.Digest, list.Attestations[2+i].Digest} {
			if got := dst.GetManifest(t, dstRepo, dg); got.Status != http.StatusNotFound {
				t.Errorf("%s (%s, left out) is at the destination: status %d", dg, img.Platform, got.Status)
			}
		}
	}

	// Naming every platform keeps the source's bytes: the harness writes
	// lists indented as `docker manifest push` does, bytes the plugin does
	// not write, so a copy that re-serialised the list would change it.
	t.Run("every platform", func(t *testing.T) {
		repo := testRepo(t, "dst")
		d := mustCopy(t, e, "--platform", "linux/s390x,linux/amd64,linux/arm/v7,linux/arm64", from, dst.Ref(repo+":all"))
		m := dst.MustGetManifest(t, repo, "all")
		if d != list.Digest || m.Digest != list.Digest || string(m.Raw) != string(list.Raw) || m.MediaType != list.MediaType {
			t.Errorf("copy printed %s, destination holds %s %s; want the source's %s %s byte for byte", d, m.MediaType, m.Digest, list.MediaType, list.Digest)
		}
	})

	t.Run("missing platform", func(t *testing.T) {
		repo := testRepo(t, "dst")
		mark := dst.Mark()
		r := e.mlistFails(t, `linux/ppc64le`, "copy", "--platform", "linux/amd64,linux/ppc64le", from, dst.Ref(repo+":slim"))
		if r.Stdout != "" {
			t.Errorf("a failed copy printed %q on stdout", r.Stdout)
		}
		if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
			t.Errorf("a failed copy wrote to the destination:\n%s", w)
		}
		if tags := dst.Tags(t, repo); tags != nil {
			t.Errorf("destination has tags %v after a failed copy", tags)
		}
	})
}

// TestCopyAttestations: case 4. A list with attestation entries, copied
// whole, arrives byte-identical with the attestation manifests and blobs.
func TestCopyAttestations(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
	e := newEnv(t)

	d := mustCopy(t, e, src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
	m, ix := dst.MustGetIndex(t, dstRepo, "v1")
	if d != list.Digest || m.Digest != list.Digest || string(m.Raw) != string(list.Raw) {
		t.Errorf("copy printed %s, destination holds %s; want the source's %s byte for byte", d, m.Digest, list.Digest)
	}
	if len(ix.Attestations()) != 2 {
		t.Errorf("%d attestation entries at the destination, want 2", len(ix.Attestations()))
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)
	dst.Validate(t, dstRepo+":v1")
}

// TestCopySameRegistry: case 5. Within a registry every blob is mounted, and
// nothing is uploaded.
func TestCopySameRegistry(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, reg, srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, copyPlatforms...)
	e := newEnv(t)

	mark := reg.Mark()
	d := mustCopy(t, e, reg.Ref(srcRepo+":v1"), reg.Ref(dstRepo+":v1"))
	m, ix := reg.MustGetIndex(t, dstRepo, "v1")
	if d != list.Digest || m.Digest != list.Digest || string(m.Raw) != string(list.Raw) {
		t.Errorf("copy printed %s, destination holds %s; want %s byte for byte", d, m.Digest, list.Digest)
	}
	checkCopied(t, reg, srcRepo, reg, dstRepo, ix)
	// The validator reads the registry: after the request counts.
	defer reg.Validate(t, dstRepo+":v1")
	reqs := reg.RequestsSince(mark).ForRepo(dstRepo)
	mounted := reqs.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=") && r.Status == http.StatusCreated
	})
	if len(mounted) != 12 { // 4 configs, 8 layers
		t.Errorf("%d blobs mounted (POST ?mount= 201), want 12:\n%s", len(mounted), reqs)
	}
	uploads := reqs.Filter(func(r harness.Request) bool {
		return r.IsBlob() && (r.Method == http.MethodPatch || r.Method == http.MethodPut ||
			(r.Method == http.MethodPost && r.Status != http.StatusCreated))
	})
	if len(uploads) > 0 {
		t.Errorf("blobs uploaded within one registry:\n%s", uploads)
	}
	if n := reqs.Count(http.MethodGet, "/blobs/"); n > 0 {
		t.Errorf("%d blob downloads within one registry:\n%s", n, reqs)
	}
}

// TestCopyArchive: case 6. An OCI index goes to an OCI archive and an OCI
// layout and comes back to a registry with its digest; so does a Docker
// list, and --media-type oci converts it.
func TestCopyArchive(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	oci := pushCopySource(t, src, srcRepo, "oci", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64", "linux/arm/v7")
	dir := t.TempDir()
	e := newEnv(t)

	for _, tc := range []struct{ name, out string }{
		{"oci-archive", "oci-archive:" + filepath.Join(dir, "app.tar") + ":v1"},
		{"oci layout", "oci:" + filepath.Join(dir, "layout") + ":v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := mustCopy(t, e, src.Ref(srcRepo+":oci"), tc.out); d != oci.Digest {
				t.Errorf("copy to %s printed %s, want %s", tc.out, d, oci.Digest)
			}
			tag := strings.ReplaceAll(tc.name, " ", "-")
			if d := mustCopy(t, e, tc.out, dst.Ref(dstRepo+":"+tag)); d != oci.Digest {
				t.Errorf("copy back printed %s, want %s", d, oci.Digest)
			}
			m, ix := dst.MustGetIndex(t, dstRepo, tag)
			if m.Digest != oci.Digest || string(m.Raw) != string(oci.Raw) {
				t.Errorf("round trip through %s gave %s, want %s byte for byte", tc.name, m.Digest, oci.Digest)
			}
			checkCopied(t, src, srcRepo, dst, dstRepo, ix)
			harness.Validate(t, tc.out)
			dst.Validate(t, dstRepo+":"+tag)
		})
	}

	t.Run("docker list", func(t *testing.T) {
		docker := pushCopySource(t, src, srcRepo, "docker", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
		// Issue 10: a Docker list goes into an OCI archive unchanged and
		// comes back with its digest (it used to need --media-type oci).
		kept := filepath.Join(dir, "docker-kept.tar")
		if d := mustCopy(t, e, src.Ref(srcRepo+":docker"), "oci-archive:"+kept+":v1"); d != docker.Digest {
			t.Errorf("copy of the Docker list to an archive printed %s, want %s", d, docker.Digest)
		}
		if back := mustCopy(t, e, "oci-archive:"+kept+":v1", dst.Ref(dstRepo+":docker-kept")); back != docker.Digest {
			t.Errorf("copy back printed %s, want %s", back, docker.Digest)
		}
		if m, _ := dst.MustGetIndex(t, dstRepo, "docker-kept"); m.Digest != docker.Digest || string(m.Raw) != string(docker.Raw) {
			t.Errorf("round trip of the Docker list gave %s, want %s byte for byte", m.Digest, docker.Digest)
		}

		archive := filepath.Join(dir, "docker.tar")
		d := mustCopy(t, e, "--media-type", "oci", src.Ref(srcRepo+":docker"), "oci-archive:"+archive+":v1")
		if d == docker.Digest {
			t.Errorf("--media-type oci kept the Docker list digest %s", d)
		}
		if _, err := os.Stat(archive); err != nil {
			t.Fatal(err)
		}
		if back := mustCopy(t, e, "oci-archive:"+archive+":v1", dst.Ref(dstRepo+":converted")); back != d {
			t.Errorf("copy back printed %s, the archive holds %s", back, d)
		}
		m, ix := dst.MustGetIndex(t, dstRepo, "converted")
		if m.Digest != d || m.MediaType != harness.MediaTypeOCIIndex {
			t.Errorf("destination holds %s %s, want an OCI index %s", m.MediaType, m.Digest, d)
		}
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
			t.Errorf("converted platforms %v, want %v", got, want)
		}
		harness.Validate(t, "oci-archive:"+kept)
		harness.Validate(t, "oci-archive:"+archive)
		dst.Validate(t, dstRepo+":converted")
		dst.Validate(t, dstRepo+":docker-kept")
		for _, c := range ix.Manifests {
			got := dst.MustGetManifest(t, dstRepo, c.Digest)
			im, err := got.ImageManifest()
			if err != nil {
				t.Fatal(err)
			}
			if c.MediaType != harness.MediaTypeOCIManifest || got.MediaType != harness.MediaTypeOCIManifest || im.Config.MediaType != harness.MediaTypeOCIConfig {
				t.Errorf("entry %s: %s (served as %s, config %s), want OCI", c.Digest, c.MediaType, got.MediaType, im.Config.MediaType)
			}
			for _, l := range im.Layers {
				if !strings.HasPrefix(l.MediaType, "application/vnd.oci.image.layer.") || !dst.BlobExists(t, dstRepo, l.Digest) {
					t.Errorf("entry %s: layer %s %s not an OCI layer at the destination", c.Digest, l.MediaType, l.Digest)
				}
			}
		}
	})
}

// TestCopyReferrers: case 7. --referrers brings cosign's digest tags along
// (for the list and for its entries); without it they stay behind.
func TestCopyReferrers(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo := testRepo(t, "src")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	cosignTag := func(d, suffix string) string { return strings.Replace(d, ":", "-", 1) + suffix }
	attached := map[string]string{} // tag -> digest
	for _, tag := range []string{cosignTag(list.Digest, ".sig"), cosignTag(list.Digest, ".att"), cosignTag(list.Images[1].Digest, ".sig")} {
		attached[tag] = src.PushImage(t, srcRepo, tag, "linux/amd64", harness.ImageOptions{OCI: true}).Digest
	}
	e := newEnv(t)

	t.Run("with", func(t *testing.T) {
		repo := testRepo(t, "dst")
		if d := mustCopy(t, e, "--referrers", src.Ref(srcRepo+":v1"), dst.Ref(repo+":v1")); d != list.Digest {
			t.Errorf("copy printed %s, want %s", d, list.Digest)
		}
		for tag, want := range attached {
			if got := dst.GetManifest(t, repo, tag); got.Status != http.StatusOK || got.Digest != want {
				t.Errorf("%s at the destination: status %d digest %s, want %s", tag, got.Status, got.Digest, want)
				continue
			}
			checkCopied(t, src, srcRepo, dst, repo, harness.Index{Manifests: []harness.Descriptor{{Digest: want}}})
		}
	})

	t.Run("without", func(t *testing.T) {
		repo := testRepo(t, "dst")
		mustCopy(t, e, src.Ref(srcRepo+":v1"), dst.Ref(repo+":v1"))
		if tags := dst.Tags(t, repo); !slices.Equal(tags, []string{"v1"}) {
			t.Errorf("destination tags %v, want just v1", tags)
		}
	})
}

// TestCopyEnginePull: case 13. The Docker engine pulls every platform of a
// copied list, its own and others, as the images the source names.
func TestCopyEnginePull(t *testing.T) {
	requireEngine(t)
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	mustCopy(t, e, src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))

	top, imgs := checkEnginePulls(t, e, dst, dstRepo, "v1")
	if top != list.Digest || len(imgs) != 2 || imgs[0].Config != list.Images[0].Config.Digest || imgs[1].Config != list.Images[1].Config.Digest {
		t.Errorf("the engine pulled %s %+v, want the source's %s", top, imgs, list.Digest)
	}
}
