package registrystub

// The registry's HTTP side: routing, the manifest, blob, upload, tag and
// referrers endpoints, each answering as docker-registry does.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

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

// WriteError answers with a distribution error body of code, as a
// registry does (hooks answer with it too).
func WriteError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, strings.ToLower(code))
}

// record logs r, the scheme of its Authorization and never its secret.
func (s *Stub) record(r *http.Request) Hook {
	auth, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: auth,
		Range: r.Header.Get("Range"), ContentRange: r.Header.Get("Content-Range"), BodyLen: int(r.ContentLength)})
	return s.hook
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	if hook := s.record(r); hook != nil && hook(w, r) {
		return
	}
	if r.URL.Path == "/v2/" {
		return
	}
	repo, kind, ref, ok := route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// A body may come from this same stub (a blob streamed between two of
	// its repositories): read it before taking the lock.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // a cut request: nothing stored
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case kind == "manifests" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		m, ok := s.lookup(repo, ref)
		if !ok {
			WriteError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", Digest(m.raw))
		w.Header().Set("Content-Length", strconv.Itoa(len(m.raw)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.raw)
		}
	case kind == "manifests" && r.Method == http.MethodPut:
		s.putManifestRequest(w, r, repo, ref, body)
	case kind == "manifests" && r.Method == http.MethodDelete:
		s.deleteManifest(w, repo, ref)
	case kind == "manifests":
		w.WriteHeader(http.StatusMethodNotAllowed)
	case kind == "blobs" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.serveBlob(w, r, repo, ref)
	case kind == "blobs/uploads":
		s.serveUpload(w, r, repo, ref, body)
	case kind == "tags" && ref == "list" && r.Method == http.MethodGet:
		if s.manifests[repo] == nil {
			WriteError(w, http.StatusNotFound, "NAME_UNKNOWN")
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

// putManifestRequest stores a pushed manifest once, like distribution,
// every blob and entry it names is present.
func (s *Stub) putManifestRequest(w http.ResponseWriter, r *http.Request, repo, ref string, raw []byte) {
	if strings.HasPrefix(ref, "sha256:") && Digest(raw) != ref {
		WriteError(w, http.StatusBadRequest, "DIGEST_INVALID")
		return
	}
	var m struct {
		Config *struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		WriteError(w, http.StatusBadRequest, "MANIFEST_INVALID")
		return
	}
	needs := m.Layers
	if m.Config != nil {
		needs = append(needs, *m.Config)
	}
	for _, d := range needs {
		if _, ok := s.blobs[repo][d.Digest]; !ok {
			WriteError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
			return
		}
	}
	for _, d := range m.Manifests {
		if _, ok := s.manifests[repo][d.Digest]; !ok {
			WriteError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
			return
		}
	}
	d := s.putManifest(repo, ref, r.Header.Get("Content-Type"), raw)
	if s.opts.ReferrersAPI && m.Subject != nil {
		w.Header().Set("OCI-Subject", m.Subject.Digest)
	}
	w.Header().Set("Docker-Content-Digest", d)
	w.WriteHeader(http.StatusCreated)
}

// serveBlob serves a blob, from an offset when asked with Range.
func (s *Stub) serveBlob(w http.ResponseWriter, r *http.Request, repo, d string) {
	b, ok := s.blobs[repo][d]
	if !ok {
		WriteError(w, http.StatusNotFound, "BLOB_UNKNOWN")
		return
	}
	if rng := r.Header.Get("Range"); rng != "" && !s.opts.NoRange && r.Method == http.MethodGet {
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
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

// serveUpload serves upload sessions: cross-repository mounts, chunks
// (PATCH with Content-Range) and the closing PUT, checked by digest.
func (s *Stub) serveUpload(w http.ResponseWriter, r *http.Request, repo, id string, b []byte) {
	switch {
	case r.Method == http.MethodPost:
		q := r.URL.Query()
		if mount := q.Get("mount"); mount != "" {
			if b, ok := s.blobs[q.Get("from")][mount]; ok {
				s.putBlob(repo, b)
				w.Header().Set("Docker-Content-Digest", mount)
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		s.nextID++
		id := strconv.Itoa(s.nextID)
		s.uploads[id] = &bytes.Buffer{}
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		if s.opts.ChunkMin > 0 {
			w.Header().Set("OCI-Chunk-Min-Length", strconv.Itoa(s.opts.ChunkMin))
		}
		w.WriteHeader(http.StatusAccepted)
	case s.uploads[id] == nil:
		WriteError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
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
	case r.Method == http.MethodPut && s.opts.ChunkMin > 0 && len(b) > 0:
		WriteError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	case r.Method == http.MethodPut:
		s.uploads[id].Write(b)
		all := s.uploads[id].Bytes()
		want := r.URL.Query().Get("digest")
		if Digest(all) != want {
			WriteError(w, http.StatusBadRequest, "DIGEST_INVALID")
			return
		}
		delete(s.uploads, id)
		s.putBlob(repo, all)
		w.Header().Set("Docker-Content-Digest", want)
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// deleteManifest deletes a manifest by digest, and every tag pointing at
// it, as docker-registry does; a tag is refused, as the spec says.
func (s *Stub) deleteManifest(w http.ResponseWriter, repo, ref string) {
	switch {
	case s.opts.NoDeletes:
		WriteError(w, http.StatusMethodNotAllowed, "UNSUPPORTED")
		return
	case !strings.HasPrefix(ref, "sha256:"):
		WriteError(w, http.StatusBadRequest, "DIGEST_INVALID")
		return
	}
	if _, ok := s.manifests[repo][ref]; !ok {
		WriteError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
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

// tagPage serves a tag listing of the stub's repository.
func (s *Stub) tagPage(w http.ResponseWriter, r *http.Request, repo string) {
	tags := []string{}
	for t := range s.tags[repo] {
		tags = append(tags, t)
	}
	WriteTagPage(w, r, repo, tags)
}

// WriteTagPage answers a tags/list request with tags, sorted, paged as the
// distribution spec says: with ?n=, a page of n tags after ?last=, and a
// Link to the next page when there is one. The e2e suite puts it in front
// of docker-registry 2.8, which ignores ?n=.
func WriteTagPage(w http.ResponseWriter, r *http.Request, repo string, tags []string) {
	tags = slices.Sorted(slices.Values(tags))
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
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
		w.Header().Set("Link", "</v2/"+repo+"/tags/list?"+next.Encode()+`>; rel="next"`)
	}
	if tags == nil {
		tags = []string{}
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

// ServeHTTP serves r as the stub does on its own listener, so another
// server (one splitting a port between TLS and plain HTTP) can route to it.
func (s *Stub) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }
