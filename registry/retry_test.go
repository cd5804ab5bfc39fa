package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
)

// TestRetry runs the client against a server that fails the first
// requests, and checks what reaches it.
func TestRetry(t *testing.T) {
	tests := map[string]struct {
		failures int
		status   int
		method   string
		policy   RetryPolicy
		wantHits int32
		wantErr  bool
	}{
		"throttled then served":  {failures: 2, status: http.StatusTooManyRequests, method: http.MethodGet, wantHits: 3},
		"unavailable then put":   {failures: 1, status: http.StatusServiceUnavailable, method: http.MethodPut, wantHits: 2},
		"gives up after retries": {failures: 10, status: http.StatusBadGateway, method: http.MethodGet, wantHits: DefaultRetryAttempts, wantErr: true},
		"policy's attempts":      {failures: 10, status: http.StatusBadGateway, method: http.MethodGet, policy: RetryPolicy{Attempts: 2}, wantHits: 2, wantErr: true},
		"never again":            {failures: 10, status: http.StatusServiceUnavailable, method: http.MethodPut, policy: RetryPolicy{Attempts: 1}, wantHits: 1, wantErr: true},
		"not found is final":     {failures: 10, status: http.StatusNotFound, method: http.MethodGet, wantHits: 1, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				body, _ := io.ReadAll(r.Body)
				if r.Method == http.MethodPut && string(body) != `{"a":1}` {
					t.Errorf("attempt %d sent body %q", n, body)
				}
				if int(n) <= tc.failures {
					w.WriteHeader(tc.status)
					return
				}
				w.Header().Set("Docker-Content-Digest", "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"a":1}`))
			})
			policy := tc.policy
			policy.Base = time.Millisecond
			c := New(srv.Host, nil, Options{Insecure: true, Retry: policy})
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

// TestRetryAfter: the wait a registry asks for replaces the policy's
// backoff, up to the policy's Max. The backoff here is an hour, so a
// request that completes was retried on the registry's word.
func TestRetryAfter(t *testing.T) {
	for name, retryAfter := range map[string]string{
		"asked for no wait":            "0",
		"asked for longer than Max":    "3600",
		"asked for a date in the past": "Wed, 21 Oct 2015 07:28:00 GMT",
	} {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.Header().Set("Retry-After", retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				_, _ = w.Write(testManifest)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			max := time.Hour
			if retryAfter == "3600" {
				max = time.Millisecond
			}
			c := New(srv.Host, nil, Options{Insecure: true, Retry: RetryPolicy{Base: time.Hour, Max: max}})
			if _, _, err := c.GetManifest(ctx, "app", "v1"); err != nil {
				t.Fatalf("GetManifest: %v", err)
			}
			if got := hits.Load(); got != 2 {
				t.Errorf("server saw %d requests, want 2", got)
			}
		})
	}
}

func TestRetryPolicyWait(t *testing.T) {
	p := RetryPolicy{Base: time.Second, Max: 10 * time.Second}
	tests := []struct {
		n     int
		asked time.Duration
		named bool
		want  time.Duration
	}{
		{n: 1, want: time.Second},
		{n: 2, want: 2 * time.Second},
		{n: 3, want: 4 * time.Second},
		{n: 5, want: 10 * time.Second}, // capped
		{n: 1, asked: 3 * time.Second, named: true, want: 3 * time.Second},
		{n: 1, asked: 0, named: true, want: 0},
		{n: 1, asked: time.Hour, named: true, want: 10 * time.Second},
	}
	for _, tc := range tests {
		if got := p.wait(tc.n, tc.asked, tc.named); got != tc.want {
			t.Errorf("wait(%d, %s, %v) = %s, want %s", tc.n, tc.asked, tc.named, got, tc.want)
		}
	}
}

// TestRetryable is the one rule of what is tried again.
func TestRetryable(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"503 seen by its attempt":   {&transientError{err: &Error{Status: http.StatusServiceUnavailable}}, true},
		"wrapped 429 of an attempt": {fmt.Errorf("upload: %w", &transientError{err: &Error{Status: http.StatusTooManyRequests}}), true},
		// A status error a request method returns has had its retries.
		"503 returned by a request": {&Error{Status: http.StatusServiceUnavailable}, false},
		"404":                       {&Error{Status: http.StatusNotFound}, false},
		"cut body":                  {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		"attempts spent":            {&spentError{attempts: 4, err: io.ErrUnexpectedEOF}, false},
		"wrapped, attempts spent":   {fmt.Errorf("copy: %w", &spentError{attempts: 4, err: &transientError{err: errors.New("503")}}), false},
		"cancelled":                 {context.Canceled, false},
		"other":                     {errors.New("boom"), false},
		"nil":                       {nil, false},
		"monolithic 413":            {ErrMonolithicRefused, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, got := Retryable(tc.err); got != tc.want {
				t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
