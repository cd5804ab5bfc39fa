// Package registrystub is an in-memory distribution registry for unit
// tests: manifests (deletes included), blobs (monolithic uploads), tag
// listings (paged with n and last) and, when switched on, the OCI
// referrers API with Link paging. It keeps a log of
// the requests it served, so tests can assert what a client asked for.
// It is a stand-in for the real registries of the e2e suite where a unit
// test needs a registry behaviour none of them has (the referrers API on
// Debian's docker-registry 2.8, for one).
package registrystub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Options shape a Stub.
type Options struct {
	// ReferrersAPI serves GET /v2/NAME/referrers/DIGEST; without it the
	// endpoint is a 404, as on registries that predate it.
	ReferrersAPI bool
	// PageSize, when above 0, splits referrers listings into pages of that
	// many descriptors linked with Link headers.
	PageSize int
	// NoDeletes answers a manifest DELETE with 405 UNSUPPORTED, as
	// docker-registry does unless storage.delete is enabled.
	NoDeletes bool
}

// Stub is a running in-memory registry.
type Stub struct {
	Host string // "127.0.0.1:PORT", for registry.New with Insecure
	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	manifests map[string]map[string]stored // repo -> digest -> content
	tags      map[string]map[string]string // repo -> tag -> digest
	blobs     map[string]map[string][]byte // repo -> digest -> content
	uploads   int
	log       []string
}

type stored struct {
	mediaType string
	raw       []byte
}

// Start runs a stub until the test ends.
func Start(tb interface {
	Cleanup(func())
}, opts Options) *Stub {
	s := &Stub{opts: opts, manifests: map[string]map[string]stored{}, tags: map[string]map[string]string{}, blobs: map[string]map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.Host = strings.TrimPrefix(s.srv.URL, "http://")
	tb.Cleanup(s.srv.Close)
	return s
}

// Digest is the sha256 digest of b, "sha256:<hex>".
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PutBlob stores b in repo and returns its digest.
func (s *Stub) PutBlob(repo string, b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Digest(b)
	if s.blobs[repo] == nil {
		s.blobs[repo] = map[string][]byte{}
	}
	s.blobs[repo][d] = b
	return d
}

// PutManifest stores raw in repo, tagged tag unless tag is "", and returns
// its digest.
func (s *Stub) PutManifest(repo, tag, mediaType string, raw []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putManifest(repo, tag, mediaType, raw)
}

func (s *Stub) putManifest(repo, tag, mediaType string, raw []byte) string {
	d := Digest(raw)
	if s.manifests[repo] == nil {
		s.manifests[repo] = map[string]stored{}
		s.tags[repo] = map[string]string{}
	}
	s.manifests[repo][d] = stored{mediaType: mediaType, raw: raw}
	if tag != "" {
		s.tags[repo][tag] = d
	}
	return d
}

// Manifest returns what repo holds under ref (a tag or digest), and whether
// it holds anything.
func (s *Stub) Manifest(repo, ref string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.lookup(repo, ref)
	return m.raw, ok
}

// Tags lists repo's tags, sorted.
func (s *Stub) Tags(repo string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tags[repo] {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Requests are the requests served so far, as "METHOD /path?query".
func (s *Stub) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Count is how many logged requests have method and contain substr.
func (s *Stub) Count(method, substr string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

func (s *Stub) lookup(repo, ref string) (stored, bool) {
	if d, ok := s.tags[repo][ref]; ok {
		ref = d
	}
	m, ok := s.manifests[repo][ref]
	return m, ok
}

// route splits "/v2/NAME/KIND/REF" at the last of the API's path kinds.
func route(path string) (repo, kind, ref string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/")
	if !found {
		return "", "", "", false
	}
	for _, k := range []string{"/manifests/", "/blobs/uploads/", "/blobs/", "/referrers/", "/tags/"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			return rest[:i], strings.Trim(k, "/"), rest[i+len(k):], true
		}
	}
	return "", "", "", false
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, strings.ToLower(code))
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	s.log = append(s.log, line)
	if r.URL.Path == "/v2/" {
		return
	}
	repo, kind, ref, ok := route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case kind == "manifests" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		m, ok := s.lookup(repo, ref)
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", Digest(m.raw))
		w.Header().Set("Content-Length", strconv.Itoa(len(m.raw)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.raw)
		}
	case kind == "manifests" && r.Method == http.MethodPut:
		raw, _ := io.ReadAll(r.Body)
		tag := ref
		if strings.HasPrefix(ref, "sha256:") {
			if Digest(raw) != ref {
				writeError(w, http.StatusBadRequest, "DIGEST_INVALID")
				return
			}
			tag = ""
		}
		d := s.putManifest(repo, tag, r.Header.Get("Content-Type"), raw)
		var m struct {
			Subject *struct {
				Digest string `json:"digest"`
			} `json:"subject"`
		}
		if s.opts.ReferrersAPI && json.Unmarshal(raw, &m) == nil && m.Subject != nil {
			w.Header().Set("OCI-Subject", m.Subject.Digest)
		}
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	case kind == "manifests" && r.Method == http.MethodDelete:
		s.deleteManifest(w, repo, ref)
	case kind == "blobs" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		b, ok := s.blobs[repo][ref]
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UNKNOWN")
			return
		}
		w.Header().Set("Docker-Content-Digest", ref)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	case kind == "blobs/uploads" && r.Method == http.MethodPost:
		s.uploads++
		w.Header().Set("Location", fmt.Sprintf("/v2/%s/blobs/uploads/%d", repo, s.uploads))
		w.WriteHeader(http.StatusAccepted)
	case kind == "blobs/uploads" && r.Method == http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		if d := r.URL.Query().Get("digest"); d != Digest(b) {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID")
			return
		}
		if s.blobs[repo] == nil {
			s.blobs[repo] = map[string][]byte{}
		}
		s.blobs[repo][Digest(b)] = b
		w.WriteHeader(http.StatusCreated)
	case kind == "tags" && ref == "list" && r.Method == http.MethodGet:
		if s.manifests[repo] == nil {
			writeError(w, http.StatusNotFound, "NAME_UNKNOWN")
			return
		}
		s.tagPage(w, r, repo)
	case kind == "referrers" && r.Method == http.MethodGet && s.opts.ReferrersAPI:
		s.referrers(w, r, repo, ref)
	default:
		// What docker-registry 2.8 answers on a path it does not route.
		http.NotFound(w, r)
	}
}

// deleteManifest deletes a manifest by digest, and every tag pointing at
// it, as docker-registry does; a tag is refused, as the spec says.
func (s *Stub) deleteManifest(w http.ResponseWriter, repo, ref string) {
	switch {
	case s.opts.NoDeletes:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED")
		return
	case !strings.HasPrefix(ref, "sha256:"):
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID")
		return
	}
	if _, ok := s.manifests[repo][ref]; !ok {
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
		return
	}
	delete(s.manifests[repo], ref)
	for t, d := range s.tags[repo] {
		if d == ref {
			delete(s.tags[repo], t)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// tagPage serves a tag listing, sorted; with n, a page of n tags after
// last, and a Link to the next page when there is one.
func (s *Stub) tagPage(w http.ResponseWriter, r *http.Request, repo string) {
	tags := []string{}
	for t := range s.tags[repo] {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(tags, last)
		for i < len(tags) && tags[i] <= last {
			i++
		}
		tags = tags[i:]
	}
	if n, _ := strconv.Atoi(q.Get("n")); n > 0 && len(tags) > n {
		tags = tags[:n]
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, repo, n, tags[n-1]))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
}

// referrers serves the referrers API: an index of every manifest in repo
// whose subject is subject, in digest order, paged when PageSize is set.
func (s *Stub) referrers(w http.ResponseWriter, r *http.Request, repo, subject string) {
	type descriptor struct {
		MediaType    string            `json:"mediaType"`
		Digest       string            `json:"digest"`
		Size         int               `json:"size"`
		ArtifactType string            `json:"artifactType,omitempty"`
		Annotations  map[string]string `json:"annotations,omitempty"`
	}
	descs := []descriptor{}
	for d, m := range s.manifests[repo] {
		var man struct {
			ArtifactType string `json:"artifactType"`
			Config       struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
			Subject *struct {
				Digest string `json:"digest"`
			} `json:"subject"`
			Annotations map[string]string `json:"annotations"`
		}
		if json.Unmarshal(m.raw, &man) != nil || man.Subject == nil || man.Subject.Digest != subject {
			continue
		}
		at := man.ArtifactType
		if at == "" {
			at = man.Config.MediaType
		}
		descs = append(descs, descriptor{MediaType: m.mediaType, Digest: d, Size: len(m.raw), ArtifactType: at, Annotations: man.Annotations})
	}
	slices.SortFunc(descs, func(a, b descriptor) int { return strings.Compare(a.Digest, b.Digest) })
	if n := s.opts.PageSize; n > 0 {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		start := min(page*n, len(descs))
		end := min(start+n, len(descs))
		if end < len(descs) {
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/referrers/%s?page=%d>; rel="next"`, repo, subject, page+1))
		}
		descs = descs[start:end]
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs})
}
