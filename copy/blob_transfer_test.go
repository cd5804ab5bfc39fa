package copy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/registry"
)

// TestBlobUploadAttempts: a blob whose uploads always fail costs exactly
// the policy's attempts in upload sessions, each request sent once (no
// retry nested inside an attempt), and fails naming the attempts and the
// last status; every session it opened is cancelled.
func TestBlobUploadAttempts(t *testing.T) {
	isUpload := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads/") }
	tests := map[string]struct {
		fail         func(r *http.Request) bool // answered 503
		attempts     int                        // the policy's; 0: the default
		sameRegistry bool                       // source in the destination's registry, mount declined
		newRepo      bool                       // destination without tags: mount from itself first
		wantPUTs     bool
	}{
		"PUT fails": {
			fail:     func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) },
			wantPUTs: true,
		},
		"POST fails": {
			fail: func(r *http.Request) bool { return r.Method == http.MethodPost && isUpload(r) },
		},
		"PUT fails, two attempts": {
			fail:     func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) },
			attempts: 2,
			wantPUTs: true,
		},
		"PUT fails, new repository": {
			fail:     func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) },
			newRepo:  true,
			wantPUTs: true,
		},
		"mount fails": {
			fail:         func(r *http.Request) bool { return r.Method == http.MethodPost && isUpload(r) },
			sameRegistry: true,
		},
		"mount declined, PUT fails": {
			fail:         func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) },
			sameRegistry: true,
			wantPUTs:     true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := newStubRegistry(t)
			img := src.pushImage("app", "amd64", layer("a", 3000))
			b := registry.Descriptor{Digest: img.layers[0], Size: 3000}
			dst, dstRepo := newStubRegistry(t), "app"
			if tc.sameRegistry {
				dst, dstRepo = src, "mirror"
			}
			dst.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				if tc.fail(r) {
					writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE")
					return true
				}
				if tc.sameRegistry && r.URL.Query().Get("from") == "app" {
					r.URL.RawQuery = "" // declined: a plain upload session
				}
				return false
			})
			attempts := tc.attempts
			if attempts == 0 {
				attempts = registry.DefaultRetryAttempts
			}
			c := registry.New(dst.host(), nil, registry.Options{Insecure: true, Retry: registry.RetryPolicy{Attempts: tc.attempts, Base: time.Millisecond}})
			to := Endpoint{Client: c, Repository: dstRepo, New: tc.newRepo}
			e := newEngine(&registrySource{ep: src.endpoint("app")}, &registryDestination{ep: to}, Options{}, &Stats{})
			err := e.registryBlob(context.Background(), to, b)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d attempts failed", attempts)) || !strings.Contains(err.Error(), "503") {
				t.Fatalf("error = %v, want the %d attempts spent, naming the status", err, attempts)
			}
			uploads := "/" + dstRepo + "/blobs/uploads/"
			if posts := dst.requestsMatching(http.MethodPost, uploads); len(posts) != attempts {
				t.Errorf("%d upload POSTs, want %d (one session per attempt):\n%v", len(posts), attempts, posts)
			}
			puts := dst.requestsMatching(http.MethodPut, uploads)
			if want := map[bool]int{true: attempts}[tc.wantPUTs]; len(puts) != want {
				t.Errorf("%d upload PUTs, want %d", len(puts), want)
			}
			if dels := dst.requestsMatching(http.MethodDelete, uploads); len(dels) != len(puts) {
				t.Errorf("%d sessions cancelled, want %d (each one opened)", len(dels), len(puts))
			}
			if _, ok := dst.blob(dstRepo, b.Digest); ok {
				t.Error("the blob was stored")
			}
		})
	}
}
