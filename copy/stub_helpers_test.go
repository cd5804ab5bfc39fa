package copy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The copy tests' registry is internal/registrystub, through the helpers
// the tests were written against: digests typed, images and lists built.
// What the old package-local stub set by field is now said otherwise:
// s.hook = h is s.SetHook(h); noRange and chunkMin are Options of
// newStubRegistryWith; s.requests is s.Log() (s.ResetLog() to forget).

type stubRegistry struct {
	*registrystub.Stub
}

type stubManifest struct {
	mediaType string
	raw       []byte
}

type stubRequest = registrystub.Request

func newStubRegistry(t *testing.T) *stubRegistry {
	return newStubRegistryWith(t, registrystub.Options{})
}

func newStubRegistryWith(t *testing.T, opts registrystub.Options) *stubRegistry {
	return &stubRegistry{registrystub.Start(t, opts)}
}

func (s *stubRegistry) host() string { return s.Host }

// quickRetry is the default retry policy with waits of a millisecond.
var quickRetry = registry.RetryPolicy{Base: time.Millisecond}

// client returns a client of the stub; log receives its debug lines.
func (s *stubRegistry) client(log func(string, ...any)) *registry.Client {
	return registry.New(s.host(), nil, registry.Options{Insecure: true, Log: log, Retry: quickRetry})
}

func (s *stubRegistry) endpoint(repo string) Endpoint {
	return Endpoint{Client: s.client(nil), Repository: repo}
}

func (s *stubRegistry) putBlob(repo string, b []byte) digest.Digest {
	return digest.Digest(s.PutBlob(repo, b))
}

// putManifest stores raw in repo under its digest, and tagged ref when ref
// is a tag.
func (s *stubRegistry) putManifest(repo, ref, mediaType string, raw []byte) {
	s.PutManifest(repo, ref, mediaType, raw)
}

func (s *stubRegistry) blob(repo string, d digest.Digest) ([]byte, bool) {
	return s.Blob(repo, d.String())
}

func (s *stubRegistry) manifest(repo, ref string) (stubManifest, bool) {
	mt, raw, ok := s.ManifestOf(repo, ref)
	return stubManifest{mt, raw}, ok
}

// requestsMatching returns the recorded requests with this method whose
// path contains part.
func (s *stubRegistry) requestsMatching(method, part string) []stubRequest {
	return s.Matching(method, part)
}

func writeError(w http.ResponseWriter, status int, code string) {
	registrystub.WriteError(w, status, code)
}

// testImage is an image pushed into a stub: config and layers.
type testImage struct {
	raw    []byte
	digest digest.Digest
	layers []digest.Digest
	config digest.Digest
}

// pushImage stores an OCI image with the given layer contents in repo.
func (s *stubRegistry) pushImage(repo, platform string, layers ...[]byte) testImage {
	cfg := []byte(fmt.Sprintf(`{"architecture":%q,"os":"linux"}`, platform))
	img := testImage{config: s.putBlob(repo, cfg)}
	m := imgspecv1.Manifest{MediaType: imgspecv1.MediaTypeImageManifest,
		Config: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: img.config, Size: int64(len(cfg))}}
	m.SchemaVersion = 2
	for _, l := range layers {
		d := s.putBlob(repo, l)
		img.layers = append(img.layers, d)
		m.Layers = append(m.Layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(l))})
	}
	img.raw, _ = json.Marshal(m)
	img.digest = digest.FromBytes(img.raw)
	s.putManifest(repo, img.digest.String(), imgspecv1.MediaTypeImageManifest, img.raw)
	return img
}

// pushIndex stores an OCI index of images under tag; size, when not nil,
// overrides the size an entry claims.
func (s *stubRegistry) pushIndex(repo, tag string, images []testImage, size func(i int, real int64) int64) []byte {
	idx := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for i, img := range images {
		n := int64(len(img.raw))
		if size != nil {
			n = size(i, n)
		}
		idx.Manifests = append(idx.Manifests, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: img.digest, Size: n,
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: testArches[i%len(testArches)]}})
	}
	raw, _ := json.Marshal(idx)
	s.putManifest(repo, tag, imgspecv1.MediaTypeImageIndex, raw)
	return raw
}

// testArches are real architectures: lists are held to the platform rules.
var testArches = []string{"amd64", "arm64", "s390x", "ppc64le", "riscv64", "386", "mips64", "loong64"}
