package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 10: one transfer engine for registries and local layouts. Every
// list kind users copy (Docker-typed, OCI, nested, buildx-attested) goes
// through oci:, oci-archive: and docker-archive: and back to a registry
// complete and byte-identical, and the Docker engine pulls a non-native
// platform of what comes back.

// refNameAnnotation names a manifest in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// graph is every manifest and blob reachable from a list in a registry.
type graph struct {
	top       harness.Manifest
	manifests map[string][]byte // digest -> the bytes the registry serves
	blobs     map[string]bool   // configs and layers
}

// readGraph walks repo:ref on reg down through nested indexes to every
// image's config and layers.
func readGraph(t testing.TB, reg *harness.Registry, repo, ref string) graph {
	t.Helper()
	g := graph{manifests: map[string][]byte{}, blobs: map[string]bool{}}
	var walk func(ref string) harness.Manifest
	walk = func(ref string) harness.Manifest {
		m := reg.MustGetManifest(t, repo, ref)
		g.manifests[m.Digest] = m.Raw
		if m.IsList() {
			ix, err := m.Index()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ix.Manifests {
				if _, seen := g.manifests[d.Digest]; !seen {
					walk(d.Digest)
				}
			}
			return m
		}
		im, err := m.ImageManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
			g.blobs[b.Digest] = true
		}
		return m
	}
	g.top = walk(ref)
	return g
}

// checkGraphIn fails t unless reg/repo serves every manifest of g with the
// same bytes and holds every blob of g.
func checkGraphIn(t testing.TB, reg *harness.Registry, repo string, g graph) {
	t.Helper()
	for dg, raw := range g.manifests {
		m := reg.GetManifest(t, repo, dg)
		if m.Status != http.StatusOK {
			t.Errorf("manifest %s: %s/%s answers %d", dg, reg.Host, repo, m.Status)
		} else if string(m.Raw) != string(raw) {
			t.Errorf("manifest %s: %s/%s serves other bytes than the source", dg, reg.Host, repo)
		}
	}
	for dg := range g.blobs {
		if !reg.BlobExists(t, repo, dg) {
			t.Errorf("blob %s missing from %s/%s", dg, reg.Host, repo)
		}
	}
}

// checkLayoutHolds fails t unless the OCI layout in dir names g's top
// manifest tag in index.json with its own media type and digest, and holds
// every manifest of g byte for byte and every blob of g under
// blobs/sha256/.
func checkLayoutHolds(t testing.TB, dir, tag string, g graph) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	var ix harness.Index
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatalf("layout index.json: %v\n%s", err, raw)
	}
	i := slices.IndexFunc(ix.Manifests, func(d harness.Descriptor) bool { return d.Annotations[refNameAnnotation] == tag })
	if i < 0 {
		t.Fatalf("layout index.json names no manifest %q:\n%s", tag, raw)
	}
	if d := ix.Manifests[i]; d.Digest != g.top.Digest || d.MediaType != g.top.MediaType || d.Size != int64(len(g.top.Raw)) {
		t.Errorf("layout names %s %s (%d bytes) for %q, want the source's %s %s (%d bytes)",
			d.MediaType, d.Digest, d.Size, tag, g.top.MediaType, g.top.Digest, len(g.top.Raw))
	}
	blob := func(dg string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(dg, "sha256:")))
	}
	for dg, want := range g.manifests {
		got, err := blob(dg)
		if err != nil {
			t.Errorf("manifest %s missing from the layout: %v", dg, err)
		} else if string(got) != string(want) {
			t.Errorf("manifest %s: the layout holds other bytes than the source", dg)
		}
	}
	for dg := range g.blobs {
		got, err := blob(dg)
		if err != nil {
			t.Errorf("blob %s missing from the layout: %v", dg, err)
		} else if harness.Digest(got) != dg {
			t.Errorf("blob %s: the layout's file hashes to %s", dg, harness.Digest(got))
		}
	}
}

// untar extracts the tar file into a new directory and returns it.
func untar(t testing.TB, file string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		name := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(name), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(name, data, 0o644)
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// engineSource is a list in a registry for the round trips, and its arm64
// image (inside the inner index of a nested list).
type engineSource struct {
	list  harness.List
	arm64 harness.Image
}

// engineListKinds push the list kinds of issue 10 as repo:v1.
var engineListKinds = []struct {
	name string
	push func(t testing.TB, reg *harness.Registry, repo string) engineSource
}{
	{"docker", func(t testing.TB, reg *harness.Registry, repo string) engineSource {
		l := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
		return engineSource{l, l.Images[1]}
	}},
	{"oci", func(t testing.TB, reg *harness.Registry, repo string) engineSource {
		l := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
		return engineSource{l, l.Images[1]}
	}},
	{"attested", func(t testing.TB, reg *harness.Registry, repo string) engineSource {
		l := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
		return engineSource{l, l.Images[1]}
	}},
	{"nested", func(t testing.TB, reg *harness.Registry, repo string) engineSource {
		inner := pushCopySource(t, reg, repo, "inner", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true, Attestations: true}, "linux/amd64", "linux/arm64")
		s390x := reg.PushImage(t, repo, "img-s390x", "linux/s390x", harness.ImageOptions{OCI: true})
		outer, err := reg.Client().PushNestedIndex(repo, "v1", []harness.List{inner}, []harness.Image{s390x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return engineSource{outer, inner.Images[1]}
	}},
}

// TestEngineLayoutRoundTrip: every list kind goes from a registry into an
// OCI layout and an OCI archive and from there into another registry. The
// layout holds the list as the source's bytes, Docker-typed ones included,
// with every child of nested indexes and every blob; the registry gets the
// same digest and every manifest and blob; the Docker engine pulls every
// platform of the result (not of a nested index, which Docker's own pull
// cannot walk).
func TestEngineLayoutRoundTrip(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, kind := range engineListKinds {
		t.Run(kind.name, func(t *testing.T) {
			srcRepo := testRepo(t, "src")
			s := kind.push(t, src, srcRepo)
			g := readGraph(t, src, srcRepo, "v1")
			if g.top.Digest != s.list.Digest {
				t.Fatalf("source %s reads back as %s", s.list.Digest, g.top.Digest)
			}
			dir := t.TempDir()
			for _, tr := range []struct{ name, ref string }{
				{"oci", "oci:" + filepath.Join(dir, "layout") + ":v1"},
				{"oci-archive", "oci-archive:" + filepath.Join(dir, "app.tar") + ":v1"},
			} {
				t.Run(tr.name, func(t *testing.T) {
					if d := mustCopy(t, e, src.Ref(srcRepo+":v1"), tr.ref); d != s.list.Digest {
						t.Errorf("copy to %s printed %s, want %s", tr.name, d, s.list.Digest)
					}
					layout := filepath.Join(dir, "layout")
					if tr.name == "oci-archive" {
						layout = untar(t, filepath.Join(dir, "app.tar"))
					}
					checkLayoutHolds(t, layout, "v1", g)
					harness.Validate(t, tr.ref)

					dstRepo := testRepo(t, "dst")
					if d := mustCopy(t, e, tr.ref, dst.Ref(dstRepo+":v1")); d != s.list.Digest {
						t.Errorf("copy back from %s printed %s, want %s", tr.name, d, s.list.Digest)
					}
					m := dst.MustGetManifest(t, dstRepo, "v1")
					if m.Digest != s.list.Digest || string(m.Raw) != string(s.list.Raw) || m.MediaType != s.list.MediaType {
						t.Errorf("round trip through %s gave %s %s, want %s %s byte for byte", tr.name, m.MediaType, m.Digest, s.list.MediaType, s.list.Digest)
					}
					checkGraphIn(t, dst, dstRepo, g)
					dst.Validate(t, dstRepo+":v1")
					if kind.name == "nested" || t.Failed() {
						return
					}
					checkEnginePulls(t, e, dst, dstRepo, "v1")
				})
			}
		})
	}
}

// dockerArchiveManifest is one entry of a docker-archive's manifest.json.
type dockerArchiveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// TestEngineDockerArchiveRoundTrip: --platform linux/arm64 picks the arm64
// image of every list kind (inside the inner index of a nested one) into a
// docker-archive, with its config unchanged; the archive goes into another
// registry as that image, which the Docker engine pulls as linux/arm64.
func TestEngineDockerArchiveRoundTrip(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, kind := range engineListKinds {
		t.Run(kind.name, func(t *testing.T) {
			srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
			s := kind.push(t, src, srcRepo)
			archive := filepath.Join(t.TempDir(), "app.tar")
			tag := "mlist-e2e-engine:" + kind.name
			mustCopy(t, e, "--platform", "linux/arm64", src.Ref(srcRepo+":v1"), "docker-archive:"+archive+":"+tag)
			files := untar(t, archive)
			raw, err := os.ReadFile(filepath.Join(files, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ms []dockerArchiveManifest
			if err := json.Unmarshal(raw, &ms); err != nil || len(ms) != 1 {
				t.Fatalf("docker-archive manifest.json (%v), want one image:\n%s", err, raw)
			}
			if !slices.Contains(ms[0].RepoTags, tag) && !slices.Contains(ms[0].RepoTags, "docker.io/library/"+tag) {
				t.Errorf("docker-archive tags %v, want %s", ms[0].RepoTags, tag)
			}
			cfg, err := os.ReadFile(filepath.Join(files, ms[0].Config))
			if err != nil {
				t.Fatal(err)
			}
			if harness.Digest(cfg) != s.arm64.Config.Digest {
				t.Errorf("docker-archive config hashes to %s, want the arm64 image's %s", harness.Digest(cfg), s.arm64.Config.Digest)
			}

			d := mustCopy(t, e, "docker-archive:"+archive, dst.Ref(dstRepo+":v1"))
			m := dst.MustGetManifest(t, dstRepo, "v1")
			if m.Digest != d {
				t.Errorf("copy printed %s, the destination holds %s", d, m.Digest)
			}
			im, err := m.ImageManifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.IsList() || im.Config.Digest != s.arm64.Config.Digest {
				t.Fatalf("destination holds %s with config %s, want an image with the arm64 config %s", m.MediaType, im.Config.Digest, s.arm64.Config.Digest)
			}
			checkGraphIn(t, dst, dstRepo, readGraph(t, dst, dstRepo, "v1"))
			if _, imgs := checkEnginePulls(t, e, dst, dstRepo, "v1"); len(imgs) != 1 || imgs[0].Config != s.arm64.Config.Digest {
				t.Errorf("the engine pulled %+v, want the arm64 image with config %s", imgs, s.arm64.Config.Digest)
			}
		})
	}
}

// sha256Hex is the hex part of a sha256 digest, which cosign's tags and
// the referrers tag schema embed.
func sha256Hex(digest string) string { return strings.TrimPrefix(digest, "sha256:") }
