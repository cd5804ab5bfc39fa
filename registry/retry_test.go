package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetry runs the client against a server that fails the first
// requests, and checks what reaches it.
func TestRetry(t *testing.T) {
	retryBase = time.Millisecond
	tests := map[string]struct {
		failures int
		status   int
		method   string
		wantHits int32
		wantErr  bool
	}{
		"throttled then served":  {failures: 2, status: http.StatusTooManyRequests, method: http.MethodGet, wantHits: 3},
		"unavailable then put":   {failures: 1, status: http.StatusServiceUnavailable, method: http.MethodPut, wantHits: 2},
		"gives up after retries": {failures: 10, status: http.StatusBadGateway, method: http.MethodGet, wantHits: 1 + maxRetries, wantErr: true},
		"not found is final":     {failures: 10, status: http.StatusNotFound, method: http.MethodGet, wantHits: 1, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				body, _ := io.ReadAll(r.Body)
				if r.Method == http.MethodPut && string(body) != `{"a":1}` {
					t.Errorf("attempt %d sent body %q", n, body)
				}
				if int(n) <= tc.failures {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(tc.status)
					return
				}
				w.Header().Set("Docker-Content-Digest", "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"a":1}`))
			}))
			defer srv.Close()
			c := New(strings.TrimPrefix(srv.URL, "http://"), nil, Options{Insecure: true})
			var err error
			if tc.method == http.MethodPut {
				_, err = c.PutManifest(context.Background(), "app", "v1", []byte(`{"a":1}`), "application/json")
			} else {
				var resp *http.Response
				if resp, err = c.do(context.Background(), http.MethodGet, c.url("app", "manifests", "v1"), nil, nil); err == nil {
					if resp.StatusCode >= 400 {
						err = c.statusError(resp, "app", "v1")
					}
					resp.Body.Close()
				}
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("error = %v, want error %v", err, tc.wantErr)
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tc.wantHits)
			}
		})
	}
}
