package registry

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
)

// The hosts of the tests are internal/registrystub servers answered
// entirely by a handler: real HTTP on a loopback address, recording every
// request. A "different host" listens on 127.0.0.2: Go keeps headers across
// a port change, so only another address proves that the client, not
// net/http, kept credentials home.

func startHost(t *testing.T, ip string, h http.HandlerFunc) *registrystub.Stub {
	t.Helper()
	return registrystub.Serve(t, registrystub.Options{IP: ip}, h)
}

// startTLSHost is startHost over TLS with cfg (nil: httptest's own
// certificate, which nothing trusts).
func startTLSHost(t *testing.T, ip string, cfg *tls.Config, h http.HandlerFunc) *registrystub.Stub {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	return registrystub.Serve(t, registrystub.Options{IP: ip, TLS: cfg}, h)
}

// tokenService is a token realm: it checks Basic credentials (when user is
// set), records the scopes of every token request, and grants what is asked
// unless refuse says no.
type tokenService struct {
	*registrystub.Stub
	user, pass string
	refuse     func(scope string) bool

	mu      sync.Mutex
	issued  int
	granted map[string][]Scope // token -> scopes
	asked   [][]string         // the scopes of each token request
}

func startTokenService(t *testing.T, user, pass string) *tokenService {
	ts := &tokenService{user: user, pass: pass, granted: map[string][]Scope{}}
	ts.Stub = startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if ts.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != ts.user || p != ts.pass {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		scopes := r.URL.Query()["scope"]
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.asked = append(ts.asked, scopes)
		var granted []Scope
		for _, sc := range scopes {
			if ts.refuse != nil && ts.refuse(sc) {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if s, ok := parseScope(sc); ok {
				granted = append(granted, s)
			}
		}
		ts.issued++
		token := fmt.Sprintf("token-%d", ts.issued)
		ts.granted[token] = granted
		_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_in": 300})
	})
	return ts
}

func (ts *tokenService) requestsAsked() [][]string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.asked)
}

// guard answers a registry request that needs action on repo: true when
// the request's token grants it; otherwise it writes the 401 a
// distribution registry sends, insufficient_scope when a token came but
// falls short.
func (ts *tokenService) guard(w http.ResponseWriter, r *http.Request, repo, action string) bool {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	scopes, known := ts.granted[token]
	ts.mu.Unlock()
	want := Scope{Repository: repo, Actions: []string{action}}
	if known && covers(scopes, []Scope{want}) {
		return true
	}
	h := fmt.Sprintf(`Bearer realm=%q,service="stub",scope="repository:%s:%s"`, ts.URL+"/token", repo, action)
	if known {
		h += `,error="insufficient_scope"`
	}
	w.Header().Set("WWW-Authenticate", h)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	return false
}

// basicGuard is a registry with htpasswd auth.
func basicGuard(w http.ResponseWriter, r *http.Request, user, pass string) bool {
	if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="stub"`)
	w.WriteHeader(http.StatusUnauthorized)
	return false
}

// quickRetry is the default policy with waits of a millisecond.
var quickRetry = RetryPolicy{Base: time.Millisecond}
