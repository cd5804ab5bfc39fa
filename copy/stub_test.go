package copy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// stubRegistry is a small in-memory distribution registry with hooks that
// reproduce what real registries and networks do wrong. Every request is
// recorded.
type stubRegistry struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	blobs     map[string]map[digest.Digest][]byte // repo -> blobs
	manifests map[string]map[string]stubManifest  // repo -> digest or tag -> manifest
	uploads   map[string]*bytes.Buffer            // upload id -> bytes so far
	nextID    int
	requests  []stubRequest

	// hook, when set, may answer a request itself (return true).
	hook func(w http.ResponseWriter, r *http.Request) bool
	// noRange makes blob GETs ignore Range, as some CDNs do.
	noRange bool
	// chunkMin, when set, makes the stub refuse a monolithic upload (413)
	// and announce this OCI-Chunk-Min-Length.
	chunkMin int
}

type stubManifest struct {
	mediaType string
	raw       []byte
}

type stubRequest struct {
	Method, Path, Query string
	Range, ContentRange string
	BodyLen             int
}

func newStubRegistry(t *testing.T) *stubRegistry {
	s := &stubRegistry{t: t, blobs: map[string]map[digest.Digest][]byte{}, manifests: map[string]map[string]stubManifest{}, uploads: map[string]*bytes.Buffer{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stubRegistry) host() string { return strings.TrimPrefix(s.srv.URL, "http://") }

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
	s.mu.Lock()
	defer s.mu.Unlock()
	d := digest.FromBytes(b)
	if s.blobs[repo] == nil {
		s.blobs[repo] = map[digest.Digest][]byte{}
	}
	s.blobs[repo][d] = b
	return d
}

func (s *stubRegistry) putManifest(repo, ref, mediaType string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifests[repo] == nil {
		s.manifests[repo] = map[string]stubManifest{}
	}
	s.manifests[repo][ref] = stubManifest{mediaType, raw}
	s.manifests[repo][digest.FromBytes(raw).String()] = stubManifest{mediaType, raw}
}

func (s *stubRegistry) blob(repo string, d digest.Digest) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[repo][d]
	return b, ok
}

func (s *stubRegistry) manifest(repo, ref string) (stubManifest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.manifests[repo][ref]
	return m, ok
}

// requestsMatching returns the recorded requests with this method whose
// path contains part.
func (s *stubRegistry) requestsMatching(method, part string) []stubRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stubRequest
	for _, r := range s.requests {
		if r.Method == method && strings.Contains(r.Path, part) {
			out = append(out, r)
		}
	}
	return out
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"stub"}]}`, code)
}

func (s *stubRegistry) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, stubRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Range: r.Header.Get("Range"), ContentRange: r.Header.Get("Content-Range"), BodyLen: int(r.ContentLength)})
	hook := s.hook
	s.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case r.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.Contains(path, "/blobs/uploads/"):
		repo, id, _ := strings.Cut(path, "/blobs/uploads/")
		s.serveUpload(w, r, repo, id)
	case strings.Contains(path, "/blobs/"):
		repo, ref, _ := strings.Cut(path, "/blobs/")
		s.serveBlob(w, r, repo, digest.Digest(ref))
	case strings.Contains(path, "/manifests/"):
		repo, ref, _ := strings.Cut(path, "/manifests/")
		s.serveManifest(w, r, repo, ref)
	case strings.HasSuffix(path, "/tags/list"):
		repo := strings.TrimSuffix(path, "/tags/list")
		s.mu.Lock()
		var tags []string
		for ref := range s.manifests[repo] {
			if !strings.Contains(ref, ":") {
				tags = append(tags, ref)
			}
		}
		s.mu.Unlock()
		if tags == nil {
			writeError(w, http.StatusNotFound, "NAME_UNKNOWN")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (s *stubRegistry) serveBlob(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	b, ok := s.blob(repo, d)
	if !ok {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN")
		return
	}
	if rng := r.Header.Get("Range"); rng != "" && !s.noRange && r.Method == http.MethodGet {
		from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || from >= len(b) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(b)-1, len(b)))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)-from))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(b[from:])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

func (s *stubRegistry) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m, ok := s.manifest(repo, ref)
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.raw)))
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(m.raw).String())
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.raw)
		}
	case http.MethodPut:
		raw, _ := io.ReadAll(r.Body)
		// Like distribution: every blob and entry must be present first.
		var m struct {
			Config    *imgspecv1.Descriptor  `json:"config"`
			Layers    []imgspecv1.Descriptor `json:"layers"`
			Manifests []imgspecv1.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID")
			return
		}
		needs := m.Layers
		if m.Config != nil {
			needs = append(needs, *m.Config)
		}
		for _, d := range needs {
			if _, ok := s.blob(repo, d.Digest); !ok {
				writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				return
			}
		}
		for _, d := range m.Manifests {
			if _, ok := s.manifest(repo, d.Digest.String()); !ok {
				writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				return
			}
		}
		s.putManifest(repo, ref, r.Header.Get("Content-Type"), raw)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(raw).String())
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (s *stubRegistry) serveUpload(w http.ResponseWriter, r *http.Request, repo, id string) {
	// The body may come from this same stub (a blob streamed between two
	// of its repositories): read it before taking the lock.
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return // a cut request: nothing stored
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodPost:
		if mount := digest.Digest(r.URL.Query().Get("mount")); mount != "" {
			if b, ok := s.blobs[r.URL.Query().Get("from")][mount]; ok {
				if s.blobs[repo] == nil {
					s.blobs[repo] = map[digest.Digest][]byte{}
				}
				s.blobs[repo][mount] = b
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		s.nextID++
		id := strconv.Itoa(s.nextID)
		s.uploads[id] = &bytes.Buffer{}
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		if s.chunkMin > 0 {
			w.Header().Set("OCI-Chunk-Min-Length", strconv.Itoa(s.chunkMin))
		}
		w.WriteHeader(http.StatusAccepted)
	case s.uploads[id] == nil:
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	case r.Method == http.MethodDelete:
		delete(s.uploads, id)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPatch:
		if want := fmt.Sprintf("%d-%d", s.uploads[id].Len(), s.uploads[id].Len()+len(b)-1); r.Header.Get("Content-Range") != want {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		s.uploads[id].Write(b)
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		w.Header().Set("Range", fmt.Sprintf("0-%d", s.uploads[id].Len()-1))
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPut && s.chunkMin > 0 && len(b) > 0:
		writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	case r.Method == http.MethodPut:
		s.uploads[id].Write(b)
		all := s.uploads[id].Bytes()
		want := digest.Digest(r.URL.Query().Get("digest"))
		if digest.FromBytes(all) != want {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID")
			return
		}
		delete(s.uploads, id)
		if s.blobs[repo] == nil {
			s.blobs[repo] = map[digest.Digest][]byte{}
		}
		s.blobs[repo][want] = all
		w.Header().Set("Docker-Content-Digest", want.String())
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
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
