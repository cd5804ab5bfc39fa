package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/distribution/registry/client/auth/challenge"
)

// authTransport answers a registry's challenges as they come, instead of
// pinging /v2/ first: an anonymous registry costs no extra request, and a
// token registry costs one token request for every scope the command
// declared. Basic credentials are sent only after a Basic challenge, as
// Docker does.
type authTransport struct {
	next      http.RoundTripper
	creds     Credentials
	scopes    []string // "repository:team/app:pull,push", one per repository
	userAgent string

	mu      sync.Mutex
	scheme  string // "", "basic" or "bearer", from the last challenge
	realm   string
	service string
	token   string
	expires time.Time
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(t.authorize(req))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil // a streamed body cannot be sent again
	}
	retry, err := t.answer(req, resp)
	if err != nil || !retry {
		return resp, err
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp)
	return t.next.RoundTrip(t.authorize(again))
}

// authorize returns req with the credentials the last challenge asked for.
func (t *authTransport) authorize(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	if t.creds.RegistryToken != "" {
		r.Header.Set("Authorization", "Bearer "+t.creds.RegistryToken)
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.scheme == "basic" && t.creds.Username != "":
		r.SetBasicAuth(t.creds.Username, t.creds.Password)
	case t.scheme == "bearer" && t.token != "" && time.Now().Before(t.expires):
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	return r
}

// answer takes a 401 and reports whether the request is worth sending again:
// only when the challenge brought something new (a scheme, a fresh token).
func (t *authTransport) answer(req *http.Request, resp *http.Response) (bool, error) {
	if t.creds.RegistryToken != "" {
		return false, nil
	}
	for _, c := range challenge.ResponseChallenges(resp) {
		switch c.Scheme {
		case "basic":
			t.mu.Lock()
			fresh := t.scheme != "basic"
			t.scheme = "basic"
			t.mu.Unlock()
			return fresh && t.creds.Username != "", nil
		case "bearer":
			return t.refresh(req, c.Parameters)
		}
	}
	return false, nil
}

// refresh fetches a token for every declared scope, plus the one the
// challenge names if it is new (so a command that forgot a scope still
// works, at the cost of a second token request).
func (t *authTransport) refresh(req *http.Request, params map[string]string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if params["error"] == "insufficient_scope" {
		var wanted []string
		for _, sc := range strings.Fields(params["scope"]) {
			wanted = append(wanted, canonicalScope(sc))
		}
		if len(wanted) == 0 || containsAll(t.scopes, wanted) {
			return false, nil // the token had the scope; the account lacks it
		}
		for _, sc := range wanted {
			if !contains(t.scopes, sc) {
				t.scopes = append(t.scopes, sc)
			}
		}
	} else if t.token != "" && time.Now().Before(t.expires) {
		// A request that went out before the token arrived is sent again
		// with it; one refused with this very token would be refused again.
		return req.Header.Get("Authorization") != "Bearer "+t.token, nil
	}
	t.scheme, t.realm, t.service = "bearer", params["realm"], params["service"]
	token, expires, err := t.fetch(req)
	if err != nil {
		return false, err
	}
	t.token, t.expires = token, expires
	return token != "", nil
}

// canonicalScope orders a scope's actions, so that scopes compare equal
// whatever order a registry lists them in.
func canonicalScope(scope string) string {
	i := strings.LastIndexByte(scope, ':')
	if i < 0 {
		return scope
	}
	actions := strings.Split(scope[i+1:], ",")
	slices.SortFunc(actions, func(a, b string) int { return actionRank(a) - actionRank(b) })
	return scope[:i+1] + strings.Join(actions, ",")
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

// fetch asks the realm for a token: an OAuth refresh-token grant when an
// identity token is known, otherwise a GET with Basic credentials (or none).
// A realm that refuses gives an empty token, and the caller returns the
// registry's own 401, which names the registry rather than the realm.
func (t *authTransport) fetch(orig *http.Request) (string, time.Time, error) {
	realm, err := url.Parse(t.realm)
	if err != nil || realm.Host == "" {
		return "", time.Time{}, fmt.Errorf("registry %s sent an invalid token realm", orig.URL.Host)
	}
	var req *http.Request
	if t.creds.IdentityToken != "" {
		form := url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {t.creds.IdentityToken},
			"client_id":     {"docker-mlist"},
			"service":       {t.service},
			"scope":         {strings.Join(t.scopes, " ")},
		}
		req, err = http.NewRequestWithContext(orig.Context(), http.MethodPost, realm.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return "", time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := realm.Query()
		if t.service != "" {
			q.Set("service", t.service)
		}
		for _, s := range t.scopes {
			q.Add("scope", s)
		}
		realm.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(orig.Context(), http.MethodGet, realm.String(), nil)
		if err != nil {
			return "", time.Time{}, err
		}
		if t.creds.Username != "" {
			req.SetBasicAuth(t.creds.Username, t.creds.Password)
		}
	}
	if t.userAgent != "" {
		req.Header.Set("User-Agent", t.userAgent)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token for %s: %w", orig.URL.Host, scrub(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", time.Time{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, fmt.Errorf("token for %s: realm answered HTTP %d", orig.URL.Host, resp.StatusCode)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", time.Time{}, fmt.Errorf("token for %s: %w", orig.URL.Host, err)
	}
	token := body.Token
	if token == "" {
		token = body.AccessToken
	}
	if token == "" {
		return "", time.Time{}, errors.New("token for " + orig.URL.Host + ": realm sent no token")
	}
	// Registries that state no lifetime grant at least 60 seconds.
	lifetime := time.Duration(max(body.ExpiresIn, 60)) * time.Second
	return token, time.Now().Add(lifetime - 5*time.Second), nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
