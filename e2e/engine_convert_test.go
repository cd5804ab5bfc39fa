package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 10's conversions: --media-type computed for the whole graph before
// the first write, attestations kept pointing at their images, and a
// refusal, before anything is written, when any image of the graph is
// signed.

// TestEngineConvertAttested: converting a buildx-attested list gives its
// images new digests (configs and layers unchanged), carries the
// attestation manifests as they are, and points every attestation entry's
// vnd.docker.reference.digest at the new digest of the image it attests.
// Every entry and blob is at the destination: nothing is orphaned.
func TestEngineConvertAttested(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name                         string
		from                         harness.ImageOptions // the source images' type
		listType, imageType, cfgType string               // what conversion gives
	}{
		{"oci", harness.ImageOptions{}, harness.MediaTypeOCIIndex, harness.MediaTypeOCIManifest, harness.MediaTypeOCIConfig},
		// No "docker" case: a Docker manifest list has no annotations, so it
		// cannot say which entries are attestations and of what; the engine
		// refuses that conversion before writing anything
		// (TestCopyConvertAttestedRefusedUpFront).
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
			// Attestations need an OCI index; its images are of the other type.
			list := pushCopySource(t, src, srcRepo, "v1", tc.from, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
			d := mustCopy(t, e, "--media-type", tc.name, src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
			if d == list.Digest {
				t.Fatalf("--media-type %s kept the list digest %s", tc.name, d)
			}
			m, ix := dst.MustGetIndex(t, dstRepo, "v1")
			if m.Digest != d || m.MediaType != tc.listType || ix.MediaType != tc.listType {
				t.Errorf("destination holds %s %s (mediaType field %q), want %s %s", m.MediaType, m.Digest, ix.MediaType, tc.listType, d)
			}
			dst.Validate(t, dstRepo+":v1")

			newDigest := map[string]string{} // source image digest -> converted
			for _, img := range list.Images {
				entry, ok := ix.ForPlatform(img.Platform.String())
				if !ok {
					t.Errorf("no %s entry in the converted list:\n%s", img.Platform, m.Raw)
					continue
				}
				newDigest[img.Digest] = entry.Digest
				if entry.Digest == img.Digest || entry.MediaType != tc.imageType {
					t.Errorf("%s entry: %s %s, want a %s with a new digest (source %s)", img.Platform, entry.MediaType, entry.Digest, tc.imageType, img.Digest)
				}
				got := dst.GetManifest(t, dstRepo, entry.Digest)
				if got.Status != http.StatusOK || got.MediaType != tc.imageType || harness.Digest(got.Raw) != entry.Digest {
					t.Errorf("%s entry %s: status %d, served as %s", img.Platform, entry.Digest, got.Status, got.MediaType)
					continue
				}
				im, err := got.ImageManifest()
				if err != nil {
					t.Fatal(err)
				}
				if im.Config.Digest != img.Config.Digest || im.Config.MediaType != tc.cfgType {
					t.Errorf("%s: config %s %s, want the source's config %s as %s", img.Platform, im.Config.MediaType, im.Config.Digest, img.Config.Digest, tc.cfgType)
				}
				if len(im.Layers) != len(img.Layers) {
					t.Errorf("%s: %d layers, want %d", img.Platform, len(im.Layers), len(img.Layers))
				}
				for i, l := range im.Layers {
					if i < len(img.Layers) && l.Digest != img.Layers[i].Digest {
						t.Errorf("%s: layer %d is %s, want the source's %s", img.Platform, i, l.Digest, img.Layers[i].Digest)
					}
				}
				for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
					if !dst.BlobExists(t, dstRepo, b.Digest) {
						t.Errorf("%s: blob %s missing at the destination", img.Platform, b.Digest)
					}
				}
			}

			atts := ix.Attestations()
			if len(atts) != len(list.Attestations) {
				t.Errorf("%d attestation entries, want %d:\n%s", len(atts), len(list.Attestations), m.Raw)
			}
			for i, want := range list.Attestations {
				subject := list.Images[i].Digest
				var found bool
				for _, a := range atts {
					if a.Digest != want.Digest {
						continue
					}
					found = true
					if got := a.Annotations[harness.AnnotationReferenceDigest]; got != newDigest[subject] {
						t.Errorf("attestation %s points at %s, want the converted %s image %s (source %s)", a.Digest, got, list.Images[i].Platform, newDigest[subject], subject)
					}
				}
				if !found {
					t.Errorf("attestation manifest %s of %s not carried as it is", want.Digest, list.Images[i].Platform)
				}
			}
			// Nothing orphaned: every attestation attests an entry of the list.
			images := map[string]bool{}
			for _, d := range ix.Images() {
				images[d.Digest] = true
			}
			for _, a := range atts {
				if !images[a.Annotations[harness.AnnotationReferenceDigest]] {
					t.Errorf("attestation %s attests %s, which the list does not hold", a.Digest, a.Annotations[harness.AnnotationReferenceDigest])
				}
			}
			checkCopied(t, src, srcRepo, dst, dstRepo, harness.Index{Manifests: atts})
		})
	}
}

// TestEngineConvertAttestedToLayout: the conversion is the same into an
// OCI layout: the layout's list has OCI images with new digests, every
// attestation entry points at one of them, and every manifest it names is
// in the layout.
func TestEngineConvertAttestedToLayout(t *testing.T) {
	src := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "layout")
	d := mustCopy(t, e, "--media-type", "oci", src.Ref(srcRepo+":v1"), "oci:"+dir+":v1")

	blob := func(dg string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", sha256Hex(dg)))
		if err != nil {
			t.Fatalf("%s missing from the layout: %v", dg, err)
		}
		return b
	}
	var top, ix harness.Index
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "index.json")), &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != d || top.Manifests[0].Annotations[refNameAnnotation] != "v1" {
		t.Fatalf("layout index.json lists %+v, want the converted list %s as v1", top.Manifests, d)
	}
	if err := json.Unmarshal(blob(d), &ix); err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for _, img := range list.Images {
		old[img.Digest] = true
	}
	images := map[string]bool{}
	for _, entry := range ix.Images() {
		images[entry.Digest] = true
		if old[entry.Digest] || entry.MediaType != harness.MediaTypeOCIManifest {
			t.Errorf("image entry %s %s: want a converted OCI manifest", entry.MediaType, entry.Digest)
		}
		var im harness.ImageManifest
		if err := json.Unmarshal(blob(entry.Digest), &im); err != nil {
			t.Fatal(err)
		}
		for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
			blob(b.Digest)
		}
	}
	if len(images) != len(list.Images) || len(ix.Attestations()) != len(list.Attestations) {
		t.Errorf("converted list has %d images and %d attestations, want %d and %d", len(images), len(ix.Attestations()), len(list.Images), len(list.Attestations))
	}
	for _, a := range ix.Attestations() {
		if !images[a.Annotations[harness.AnnotationReferenceDigest]] {
			t.Errorf("attestation %s points at %s, not an image of the converted list", a.Digest, a.Annotations[harness.AnnotationReferenceDigest])
		}
		blob(a.Digest)
	}
}

// readFile is os.ReadFile that fails t.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineConvertSignedChild: a list whose arm64 image (not the list)
// has a cosign signature, a cosign SBOM, or a referrer in the tag schema is
// refused by --media-type before anything is written, naming the signed
// image; neither a registry nor an OCI layout destination is touched. The
// same list unsigned converts.
func TestEngineConvertSignedChild(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		sign func(t *testing.T, repo string, child harness.Image)
	}{
		{"cosign sig", func(t *testing.T, repo string, child harness.Image) {
			if _, err := src.Client().PushCosignArtifact(repo, child.Digest, ".sig"); err != nil {
				t.Fatal(err)
			}
		}},
		{"cosign sbom", func(t *testing.T, repo string, child harness.Image) {
			if _, err := src.Client().PushCosignArtifact(repo, child.Digest, ".sbom"); err != nil {
				t.Fatal(err)
			}
		}},
		{"referrers tag schema", func(t *testing.T, repo string, child harness.Image) {
			if _, err := src.Client().PushTagSchemaReferrer(repo, child.Descriptor(), notationSig); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
			list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
			arm64 := list.Images[1]
			tc.sign(t, srcRepo, arm64)
			// The error names the signed image: by digest or by its tag.
			names := regexp.QuoteMeta(sha256Hex(arm64.Digest))

			mark := dst.Mark()
			r := e.mlistFails(t, names, "copy", "--media-type", "oci", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
			if r.Stdout != "" {
				t.Errorf("a refused conversion printed %q on stdout", r.Stdout)
			}
			if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
				t.Errorf("a refused conversion wrote to the destination:\n%s", w)
			}
			if tags := dst.Tags(t, dstRepo); tags != nil {
				t.Errorf("destination has tags %v after a refused conversion", tags)
			}

			layout := filepath.Join(t.TempDir(), "layout")
			e.mlistFails(t, names, "copy", "--media-type", "oci", src.Ref(srcRepo+":v1"), "oci:"+layout+":v1")
			if _, err := os.Stat(layout); !os.IsNotExist(err) {
				t.Errorf("a refused conversion created the layout %s (%v)", layout, err)
			}
		})
	}

	t.Run("unsigned", func(t *testing.T) {
		srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
		list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
		// A signature of another image in the repository is no reason to refuse.
		other := src.PushImage(t, srcRepo, "other", "linux/amd64", harness.ImageOptions{})
		if _, err := src.Client().PushCosignArtifact(srcRepo, other.Digest, ".sig"); err != nil {
			t.Fatal(err)
		}
		if d := mustCopy(t, e, "--media-type", "oci", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1")); d == list.Digest {
			t.Errorf("--media-type oci kept the Docker list digest %s", d)
		}
		if m := dst.MustGetManifest(t, dstRepo, "v1"); m.MediaType != harness.MediaTypeOCIIndex {
			t.Errorf("converted list is %s, want an OCI index", m.MediaType)
		}
	})
}

// TestEngineCopyDryRun: copy --dry-run reads the source and the
// destination, writes nothing (the destination's request log has no write,
// an OCI layout is not created) and prints a plan naming the list and every
// manifest it would copy.
func TestEngineCopyDryRun(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	plans := func(t *testing.T, r result) {
		t.Helper()
		out := r.Stdout + r.Stderr
		for _, dg := range append([]string{list.Digest}, digests(readGraphDescriptors(t, src, srcRepo))...) {
			if !strings.Contains(out, dg) {
				t.Errorf("the plan does not name %s:\n%s", dg, out)
			}
		}
	}

	t.Run("registry", func(t *testing.T) {
		srcMark, dstMark := src.Mark(), dst.Mark()
		r := e.mlist("copy", "--dry-run", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
		mustSucceed(t, r, "docker mlist copy --dry-run")
		plans(t, r)
		if w := writes(dst.RequestsSince(dstMark)); len(w) > 0 {
			t.Errorf("--dry-run wrote to the destination:\n%s", w)
		}
		if w := writes(src.RequestsSince(srcMark)); len(w) > 0 {
			t.Errorf("--dry-run wrote to the source:\n%s", w)
		}
		if len(notPing(src.RequestsSince(srcMark)).ForRepo(srcRepo)) == 0 {
			t.Errorf("--dry-run did not read the source: the checks above prove nothing")
		}
		if tags := dst.Tags(t, dstRepo); tags != nil {
			t.Errorf("destination has tags %v after --dry-run", tags)
		}
	})

	t.Run("layout", func(t *testing.T) {
		layout := filepath.Join(t.TempDir(), "layout")
		r := e.mlist("copy", "--dry-run", src.Ref(srcRepo+":v1"), "oci:"+layout+":v1")
		mustSucceed(t, r, "docker mlist copy --dry-run")
		plans(t, r)
		if _, err := os.Stat(layout); !os.IsNotExist(err) {
			t.Errorf("--dry-run created the layout %s (%v)", layout, err)
		}
	})
}

// readGraphDescriptors returns the entries of repo:v1 on reg.
func readGraphDescriptors(t testing.TB, reg *harness.Registry, repo string) []harness.Descriptor {
	t.Helper()
	_, ix := reg.MustGetIndex(t, repo, "v1")
	return ix.Manifests
}
