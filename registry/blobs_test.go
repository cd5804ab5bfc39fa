package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// chunkOnlyRegistry takes blobs only in PATCH chunks of at least minChunk
// bytes (but the last), as registries behind a request-size limit do.
type chunkOnlyRegistry struct {
	minChunk int

	mu        sync.Mutex
	uploads   map[string]*bytes.Buffer
	next      int
	stored    map[digest.Digest][]byte
	patches   []string // Content-Range of each PATCH
	refused   int      // monolithic PUTs refused
	cancelled []string
}

func (s *chunkOnlyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch {
	case r.Method == http.MethodPost:
		s.next++
		id := strconv.Itoa(s.next)
		s.uploads[id] = &bytes.Buffer{}
		w.Header().Set("Location", "/v2/app/blobs/uploads/"+id)
		w.Header().Set("OCI-Chunk-Min-Length", strconv.Itoa(s.minChunk))
		w.WriteHeader(http.StatusAccepted)
	case s.uploads[id] == nil:
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodDelete:
		s.cancelled = append(s.cancelled, id)
		delete(s.uploads, id)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPatch:
		s.patches = append(s.patches, r.Header.Get("Content-Range"))
		from, to := 0, 0
		if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &from, &to); err != nil || from != s.uploads[id].Len() || to-from+1 != len(body) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		s.uploads[id].Write(body)
		w.Header().Set("Location", "/v2/app/blobs/uploads/"+id)
		w.Header().Set("Range", fmt.Sprintf("0-%d", s.uploads[id].Len()-1))
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPut && len(body) > 0:
		s.refused++
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	case r.Method == http.MethodPut:
		b := s.uploads[id].Bytes()
		d := digest.Digest(r.URL.Query().Get("digest"))
		if digest.FromBytes(b) != d {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.stored[d] = b
		w.WriteHeader(http.StatusCreated)
	}
}

func TestUploadFallsBackToChunks(t *testing.T) {
	reg := &chunkOnlyRegistry{minChunk: 1000, uploads: map[string]*bytes.Buffer{}, stored: map[digest.Digest][]byte{}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	// Chunks below the registry's minimum: the minimum wins.
	c := New(strings.TrimPrefix(srv.URL, "http://"), nil, Options{Insecure: true, ChunkSize: 100})
	ctx := context.Background()
	blob := bytes.Repeat([]byte("0123456789"), 250) // 2500 bytes
	d := digest.FromBytes(blob)

	err := c.UploadBlob(ctx, "app", d, int64(len(blob)), bytes.NewReader(blob))
	if !errors.Is(err, ErrMonolithicRefused) {
		t.Fatalf("first upload error = %v, want ErrMonolithicRefused", err)
	}
	if len(reg.cancelled) != 1 {
		t.Errorf("refused session cancelled %d times, want 1", len(reg.cancelled))
	}
	// The client remembers: the next upload goes in chunks at once.
	if err := c.UploadBlob(ctx, "app", d, int64(len(blob)), bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reg.stored[d], blob) {
		t.Fatal("registry did not store the blob")
	}
	if want := []string{"0-999", "1000-1999", "2000-2499"}; strings.Join(reg.patches, " ") != strings.Join(want, " ") {
		t.Errorf("PATCH ranges %v, want %v", reg.patches, want)
	}
	if reg.refused != 1 {
		t.Errorf("%d monolithic PUTs refused, want 1", reg.refused)
	}
}

func TestUploadChunksRefuseExtraBytes(t *testing.T) {
	reg := &chunkOnlyRegistry{minChunk: 10, uploads: map[string]*bytes.Buffer{}, stored: map[digest.Digest][]byte{}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c := New(strings.TrimPrefix(srv.URL, "http://"), nil, Options{Insecure: true})
	c.chunked.Store(true)
	blob := []byte("exactly twenty bytes")
	d := digest.FromBytes(blob[:15])
	// The reader holds more than the size given: never committed.
	if err := c.UploadBlob(context.Background(), "app", d, 15, bytes.NewReader(blob)); err == nil || !strings.Contains(err.Error(), "more than 15 bytes") {
		t.Fatalf("upload error = %v, want the extra bytes refused", err)
	}
	if len(reg.stored) != 0 {
		t.Error("blob committed")
	}
}

func TestParseContentRange(t *testing.T) {
	tests := map[string]struct {
		in          string
		from, total int64
		ok          bool
	}{
		"full":          {"bytes 100-199/200", 100, 200, true},
		"unknown total": {"bytes 5-9/*", 5, -1, true},
		"no unit":       {"100-199/200", 0, 0, false},
		"garbage":       {"bytes x-y/z", 0, 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			from, total, ok := parseContentRange(tc.in)
			if ok != tc.ok || (ok && (from != tc.from || total != tc.total)) {
				t.Errorf("parseContentRange(%q) = %d, %d, %v", tc.in, from, total, ok)
			}
		})
	}
}

// TestMountRefusedNamesSource: a mount refused for want of pull on its
// source names the source, not the repository mounted into.
func TestMountRefusedNamesSource(t *testing.T) {
	ts := startTokenService(t, "alice", "s3cret")
	ts.refuse = func(scope string) bool { return strings.HasPrefix(scope, "repository:private/") }
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if !ts.guard(w, r, "team/app", "push") {
			return
		}
		if from := r.URL.Query().Get("from"); from != "" {
			// As distribution: the mount also needs pull on its source.
			h := fmt.Sprintf(`Bearer realm=%q,service="stub",scope="repository:team/app:pull,push repository:%s:pull",error="insufficient_scope"`, ts.URL+"/token", from)
			w.Header().Set("WWW-Authenticate", h)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Location", "/v2/team/app/blobs/uploads/u1")
		w.WriteHeader(http.StatusAccepted)
	})
	c := New(reg.Host, []Scope{{Repository: "team/app", Actions: []string{"pull", "push"}}},
		Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
	_, _, err := c.MountBlob(context.Background(), "team/app", "private/app", testBlobDigest)
	if err == nil || !strings.Contains(err.Error(), "not granted pull access to private/app") || strings.Contains(err.Error(), "access to team/app") {
		t.Fatalf("MountBlob error = %v, want the source named as what may not be read", err)
	}
}

func TestUploadSessionLostIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/v2/app/blobs/uploads/gone")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}`))
	}))
	defer srv.Close()
	c := New(strings.TrimPrefix(srv.URL, "http://"), nil, Options{Insecure: true})
	blob := []byte("blob")
	err := c.UploadBlob(context.Background(), "app", digest.FromBytes(blob), int64(len(blob)), bytes.NewReader(blob))
	if _, transient := Retryable(err); err == nil || !transient {
		t.Errorf("upload into an expired session: %v, transient %v; want a transient error", err, transient)
	}
}
