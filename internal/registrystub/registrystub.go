// Package registrystub is the one in-memory distribution registry of the
// unit tests: manifests (checked for their blobs and entries, deletes
// included), blobs (Range reads, monolithic, chunked and mounted uploads),
// tag listings (paged with n and last) and, when switched on, the OCI
// referrers API with Link paging. It listens on a chosen loopback address,
// over TLS when asked; a Hook reproduces what real registries and networks
// do wrong. It keeps a log of the requests it served (Authorization by
// scheme only), so tests can assert what a client asked for.
// It is a stand-in for the real registries of the e2e suite where a unit
// test needs a registry behaviour none of them has (the referrers API on
// Debian's docker-registry 2.8, for one).
package registrystub

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
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
	// NoRange makes blob GETs ignore Range, as some CDNs do.
	NoRange bool
	// ChunkMin, when above 0, refuses a monolithic upload (413) and
	// announces this OCI-Chunk-Min-Length, as chunk-only registries do.
	ChunkMin int
	// IP is the loopback address to listen on, "127.0.0.1" when empty.
	// Go keeps headers across a port change, so only another address
	// ("127.0.0.2") is another host to a client.
	IP string
	// TLS, when not nil, serves HTTPS with this configuration (an empty
	// one: httptest's own certificate, which nothing trusts).
	TLS *tls.Config
}

// Hook may answer a request itself, returning true, in place of the
// registry: what real registries and networks do wrong (faults, cut
// bodies, redirects, challenges), or a whole other server.
type Hook func(w http.ResponseWriter, r *http.Request) bool

// Request is one request a stub received. Auth is the scheme of its
// Authorization header ("Basic", "Bearer"), never the credentials.
type Request struct {
	Method, Path, Query string
	Auth                string
	Range, ContentRange string
	BodyLen             int
}

// String is "METHOD /path?query".
func (r Request) String() string {
	if r.Query == "" {
		return r.Method + " " + r.Path
	}
	return r.Method + " " + r.Path + "?" + r.Query
}

// Stub is a running in-memory registry.
type Stub struct {
	Host string // "127.0.0.1:PORT", for registry.New with Insecure
	URL  string // "http://" or "https://" and Host
	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	hook      Hook
	manifests map[string]map[string]stored // repo -> digest -> content
	tags      map[string]map[string]string // repo -> tag -> digest
	blobs     map[string]map[string][]byte // repo -> digest -> content
	uploads   map[string]*bytes.Buffer     // upload id -> bytes so far
	nextID    int
	log       []Request
}

type stored struct {
	mediaType string
	raw       []byte
}

// Start runs a stub until the test ends.
func Start(tb interface {
	Cleanup(func())
}, opts Options) *Stub {
	s := &Stub{opts: opts, manifests: map[string]map[string]stored{}, tags: map[string]map[string]string{},
		blobs: map[string]map[string][]byte{}, uploads: map[string]*bytes.Buffer{}}
	ip := opts.IP
	if ip == "" {
		ip = "127.0.0.1"
	}
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		panic(fmt.Sprintf("registrystub: listen on %s: %v", ip, err))
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.Host = l.Addr().String()
	if opts.TLS != nil {
		// Handshakes refused on purpose are no news.
		s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.srv.TLS = opts.TLS
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Serve starts a stub whose every request h answers: a token service, a
// CDN, a registry that misbehaves throughout. Its requests are logged.
func Serve(tb interface {
	Cleanup(func())
}, opts Options, h http.HandlerFunc) *Stub {
	s := Start(tb, opts)
	s.SetHook(func(w http.ResponseWriter, r *http.Request) bool { h(w, r); return true })
	return s
}

// SetHook makes h see every request first (nil: none).
func (s *Stub) SetHook(h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Certificate is the TLS certificate the stub serves.
func (s *Stub) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Digest is the sha256 digest of b, "sha256:<hex>".
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PutBlob stores b in repo and returns its digest.
func (s *Stub) PutBlob(repo string, b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putBlob(repo, b)
}

func (s *Stub) putBlob(repo string, b []byte) string {
	d := Digest(b)
	if s.blobs[repo] == nil {
		s.blobs[repo] = map[string][]byte{}
	}
	s.blobs[repo][d] = b
	return d
}

// PutBlobAs stores b under digest d, which need not be b's: a corrupt blob.
func (s *Stub) PutBlobAs(repo, d string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs[repo] == nil {
		s.blobs[repo] = map[string][]byte{}
	}
	s.blobs[repo][d] = b
}

// Blob returns the blob repo holds under digest d, and whether it does.
func (s *Stub) Blob(repo, d string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[repo][d]
	return b, ok
}

// PutManifest stores raw in repo, tagged ref unless ref is "" or a digest,
// and returns its digest.
func (s *Stub) PutManifest(repo, ref, mediaType string, raw []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putManifest(repo, ref, mediaType, raw)
}

func (s *Stub) putManifest(repo, ref, mediaType string, raw []byte) string {
	d := Digest(raw)
	if s.manifests[repo] == nil {
		s.manifests[repo] = map[string]stored{}
		s.tags[repo] = map[string]string{}
	}
	s.manifests[repo][d] = stored{mediaType: mediaType, raw: raw}
	if ref != "" && !strings.Contains(ref, ":") {
		s.tags[repo][ref] = d
	}
	return d
}

// Manifest returns what repo holds under ref (a tag or digest), and whether
// it holds anything.
func (s *Stub) Manifest(repo, ref string) ([]byte, bool) {
	_, raw, ok := s.ManifestOf(repo, ref)
	return raw, ok
}

// ManifestOf returns the media type and bytes repo holds under ref.
func (s *Stub) ManifestOf(repo, ref string) (mediaType string, raw []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.lookup(repo, ref)
	return m.mediaType, m.raw, ok
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

// Log is every request served so far, in order.
func (s *Stub) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetLog forgets the requests served so far.
func (s *Stub) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Requests are the requests served so far, as "METHOD /path?query".
func (s *Stub) Requests() []string {
	var out []string
	for _, r := range s.Log() {
		out = append(out, r.String())
	}
	return out
}

// Count is how many logged requests have method and contain substr in
// their path and query.
func (s *Stub) Count(method, substr string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// Matching are the logged requests with method whose path contains part.
func (s *Stub) Matching(method, part string) []Request {
	var out []Request
	for _, r := range s.Log() {
		if r.Method == method && strings.Contains(r.Path, part) {
			out = append(out, r)
		}
	}
	return out
}

// Hits is how many logged requests have method and exactly path.
func (s *Stub) Hits(method, path string) int {
	n := 0
	for _, r := range s.Log() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// Authorized is how many logged requests carried an Authorization header.
func (s *Stub) Authorized() int {
	n := 0
	for _, r := range s.Log() {
		if r.Auth != "" {
			n++
		}
	}
	return n
}
