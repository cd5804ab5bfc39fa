package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
)

// startChunkOnly is a registry that takes blobs only in PATCH chunks of
// at least minChunk bytes (but the last), as registries behind a
// request-size limit do.
func startChunkOnly(t *testing.T, minChunk int) *registrystub.Stub {
	return registrystub.Start(t, registrystub.Options{ChunkMin: minChunk})
}

// chunkRanges are the Content-Ranges of the PATCHes s received.
func chunkRanges(s *registrystub.Stub) []string {
	var out []string
	for _, r := range s.Matching(http.MethodPatch, "/blobs/uploads/") {
		out = append(out, r.ContentRange)
	}
	return out
}

// monolithicPuts counts the upload PUTs s received with a body: a
// chunk-only registry refuses each.
func monolithicPuts(s *registrystub.Stub) int {
	n := 0
	for _, r := range s.Matching(http.MethodPut, "/blobs/uploads/") {
		if r.BodyLen > 0 {
			n++
		}
	}
	return n
}

func TestUploadFallsBackToChunks(t *testing.T) {
	reg := startChunkOnly(t, 1000)
	// Chunks below the registry's minimum: the minimum wins.
	c := New(reg.Host, nil, Options{Insecure: true, ChunkSize: 100})
	ctx := context.Background()
	blob := bytes.Repeat([]byte("0123456789"), 250) // 2500 bytes
	d := digest.FromBytes(blob)

	err := c.UploadBlob(ctx, "app", d, int64(len(blob)), bytes.NewReader(blob))
	if !errors.Is(err, ErrMonolithicRefused) {
		t.Fatalf("first upload error = %v, want ErrMonolithicRefused", err)
	}
	if n := len(reg.Matching(http.MethodDelete, "/blobs/uploads/")); n != 1 {
		t.Errorf("refused session cancelled %d times, want 1", n)
	}
	// The client remembers: the next upload goes in chunks at once.
	if err := c.UploadBlob(ctx, "app", d, int64(len(blob)), bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	if stored, _ := reg.Blob("app", d.String()); !bytes.Equal(stored, blob) {
		t.Fatal("registry did not store the blob")
	}
	if want := []string{"0-999", "1000-1999", "2000-2499"}; strings.Join(chunkRanges(reg), " ") != strings.Join(want, " ") {
		t.Errorf("PATCH ranges %v, want %v", chunkRanges(reg), want)
	}
	if n := monolithicPuts(reg); n != 1 {
		t.Errorf("%d monolithic PUTs refused, want 1", n)
	}
}

func TestUploadChunksRefuseExtraBytes(t *testing.T) {
	reg := startChunkOnly(t, 10)
	c := New(reg.Host, nil, Options{Insecure: true})
	c.chunked.Store(true)
	blob := []byte("exactly twenty bytes")
	d := digest.FromBytes(blob[:15])
	// The reader holds more than the size given: never committed.
	if err := c.UploadBlob(context.Background(), "app", d, 15, bytes.NewReader(blob)); err == nil || !strings.Contains(err.Error(), "more than 15 bytes") {
		t.Fatalf("upload error = %v, want the extra bytes refused", err)
	}
	if _, ok := reg.Blob("app", d.String()); ok {
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
	// A session the registry has forgotten: it answers BLOB_UPLOAD_UNKNOWN.
	reg := registrystub.Start(t, registrystub.Options{})
	reg.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		w.Header().Set("Location", "/v2/app/blobs/uploads/gone")
		w.WriteHeader(http.StatusAccepted)
		return true
	})
	c := New(reg.Host, nil, Options{Insecure: true})
	blob := []byte("blob")
	err := c.UploadBlob(context.Background(), "app", digest.FromBytes(blob), int64(len(blob)), bytes.NewReader(blob))
	if _, transient := Retryable(err); err == nil || !transient {
		t.Errorf("upload into an expired session: %v, transient %v; want a transient error", err, transient)
	}
}
