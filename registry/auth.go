package registry

import (
	"context"
	"io"
	"net"
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
//
// Credentials go to the registry's own scheme and host and to its token
// realm, nowhere else: a request that http.Client sends to another host (a
// blob redirected to a CDN or a presigned S3 URL, a tags Link or an upload
// Location elsewhere) passes through untouched, and a challenge from such a
// host is not answered. S3 refuses a presigned request that also carries
// Authorization, and a CDN has no business seeing a password.
type authTransport struct {
	next      http.RoundTripper
	host      string // the registry's API host, as in its URLs
	insecure  bool   // the registry may be reached over plain HTTP
	userAgent string

	// credMu guards the credentials, which lookup provides on the first
	// challenge when they were not given; it is never taken before mu.
	credMu  sync.Mutex
	creds   Credentials
	lookup  func() (Credentials, error)
	looked  bool
	lookErr error

	mu      sync.Mutex
	scopes  []Scope // what the command declared, plus pull on repositories a challenge named
	asked   []Scope // what the last token request asked for
	scheme  string  // "", "basic" or "bearer", from the last challenge
	realm   string
	service string
	token   string
	expires time.Time

	// /v2/ is asked for its challenge once at most; requests that meet a
	// bare refusal meanwhile wait for that answer and share it.
	pingMu    sync.Mutex
	pinged    bool
	pingFound []challenge.Challenge
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.ours(req.URL) {
		// Another host: its own URL carries whatever authorises it.
		r := req.Clone(req.Context())
		r.Header.Del("Authorization")
		if t.userAgent != "" {
			r.Header.Set("User-Agent", t.userAgent)
		}
		return t.next.RoundTrip(r)
	}
	if err := t.prepare(req); err != nil {
		return nil, err
	}
	sent := t.authorize(req)
	resp, err := t.next.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
	case resp.StatusCode == http.StatusNotFound && t.mayHide(sent):
	default:
		return resp, nil
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // a streamed body cannot be sent again
	}
	retry, err := t.answer(sent, resp)
	if err != nil {
		// A RoundTripper returns a response or an error, never both.
		drain(resp)
		return nil, err
	}
	if !retry {
		return resp, nil
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

// ours reports whether u is on the registry's own API host, with a scheme
// the registry may be reached by.
func (t *authTransport) ours(u *url.URL) bool {
	switch u.Scheme {
	case "https":
	case "http":
		if !t.insecure {
			return false
		}
	default:
		return false
	}
	return canonicalAddress(u.Host, u.Scheme) == canonicalAddress(t.host, u.Scheme)
}

// canonicalAddress is host:port with the scheme's default port filled in,
// so that "r.example" and "r.example:443" compare equal.
func canonicalAddress(host, scheme string) string {
	host = strings.ToLower(host)
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

type absentIsAnswer struct{}

// AbsentIsAnswer marks the requests made with ctx as probes whose 404 is
// taken as it is: a wrong "absent" there costs requests, never a wrong
// result (a destination tag or repository taken for new is written, and
// its writes are challenged), so it is not worth the /v2/ request that
// tells a registry hiding repositories from anonymous reads (see mayHide)
// when credentials may exist for the host but were not looked up yet.
func AbsentIsAnswer(ctx context.Context) context.Context {
	return context.WithValue(ctx, absentIsAnswer{}, true)
}

// mayHide reports whether a 404 may be a registry hiding a repository from
// anonymous requests (Artifactory's "hide existence"): credentials are
// configured, none went with the request, and no challenge was ever seen.
func (t *authTransport) mayHide(sent *http.Request) bool {
	if !t.mayPresent() || sent.Header.Get("Authorization") != "" || sent.Context().Value(absentIsAnswer{}) != nil {
		return false
	}
	t.mu.Lock()
	seen := t.scheme != ""
	t.mu.Unlock()
	t.pingMu.Lock()
	defer t.pingMu.Unlock()
	return !seen && !t.pinged
}

// prepare fetches a token before the request when the current one no
// longer covers what the command declared (a scope was added since) or has
// expired: asking now saves the round trip of a refused request.
func (t *authTransport) prepare(req *http.Request) error {
	if t.known().RegistryToken != "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.scheme != "bearer" || t.realm == "" {
		return nil
	}
	stale := !covers(t.asked, t.scopes) || (t.token != "" && !time.Now().Before(t.expires))
	if !stale {
		return nil
	}
	token, expires, err := t.fetch(req)
	if err != nil {
		return err
	}
	t.token, t.expires = token, expires
	return nil
}

// authorize returns req with the credentials the last challenge asked for.
func (t *authTransport) authorize(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	creds := t.known()
	if creds.RegistryToken != "" {
		r.Header.Set("Authorization", "Bearer "+creds.RegistryToken)
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.scheme == "basic" && creds.Username != "":
		r.SetBasicAuth(creds.Username, creds.Password)
	case t.scheme == "bearer" && t.token != "" && time.Now().Before(t.expires):
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	return r
}

// answer takes a 401 (or a 404 that may hide one) and reports whether the
// request is worth sending again: only when the challenge brought something
// new (a scheme, a fresh token). An answer without a usable challenge is
// met with one /v2/ request, whose challenge then serves: gcr.io once
// challenged only there, and Artifactory answers 404 to anonymous requests.
func (t *authTransport) answer(sent *http.Request, resp *http.Response) (bool, error) {
	if t.known().RegistryToken != "" {
		return false, nil
	}
	challenges := usable(challenge.ResponseChallenges(resp))
	if len(challenges) == 0 {
		t.pingMu.Lock()
		if !t.pinged {
			t.pinged = true
			t.pingFound = t.ping(sent)
		}
		challenges = t.pingFound
		t.pingMu.Unlock()
	}
	if len(challenges) == 0 {
		return false, nil
	}
	creds, err := t.credentials()
	if err != nil {
		return false, err
	}
	if creds.RegistryToken != "" {
		// Learnt just now: the request went without it.
		return true, nil
	}
	for _, c := range challenges {
		switch c.Scheme {
		case "basic":
			t.mu.Lock()
			t.scheme = "basic"
			t.mu.Unlock()
			// Worth sending again only if the credentials did not go with it.
			return creds.Username != "" && sent.Header.Get("Authorization") == "", nil
		case "bearer":
			return t.refresh(sent, c.Parameters)
		}
	}
	return false, nil
}

// usable keeps the challenges this client can answer.
func usable(cs []challenge.Challenge) []challenge.Challenge {
	var out []challenge.Challenge
	for _, c := range cs {
		if c.Scheme == "basic" || c.Scheme == "bearer" {
			out = append(out, c)
		}
	}
	return out
}

// ping asks the registry's /v2/ for its challenge. Any failure means none:
// the caller then returns the original answer.
func (t *authTransport) ping(orig *http.Request) []challenge.Challenge {
	u := url.URL{Scheme: orig.URL.Scheme, Host: orig.URL.Host, Path: "/v2/"}
	req, err := http.NewRequestWithContext(orig.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil
	}
	if t.userAgent != "" {
		req.Header.Set("User-Agent", t.userAgent)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusUnauthorized {
		return nil
	}
	return usable(challenge.ResponseChallenges(resp))
}

// refresh answers a Bearer challenge to sent.
//
// insufficient_scope is final only when the token sent was the current one
// and already asked for everything the command may ask for. A request that
// carried an older token (another request refreshed it meanwhile, say after
// a scope was added) is sent again with the current one. A challenge naming
// a repository the command did not declare adds pull on it, never more: a
// token asking for actions the command did not declare (an upload cancel's
// delete) is refused outright by Quay, and would then be asked for by every
// later token request.
func (t *authTransport) refresh(sent *http.Request, params map[string]string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	used := strings.TrimPrefix(sent.Header.Get("Authorization"), "Bearer ")
	valid := t.token != "" && time.Now().Before(t.expires)
	if params["realm"] != "" {
		t.scheme, t.realm, t.service = "bearer", params["realm"], params["service"]
	}
	if params["error"] == "insufficient_scope" {
		for _, sc := range strings.Fields(params["scope"]) {
			if s, ok := parseScope(sc); ok && contains(s.Actions, "pull") {
				t.scopes = mergeScopes(append(t.scopes, Scope{Repository: s.Repository, Actions: []string{"pull"}}))
			}
		}
		if covers(t.asked, t.scopes) {
			return valid && used != t.token, nil
		}
	} else if valid {
		// A request that went out before the token arrived is sent again
		// with it; one refused with this very token would be refused again.
		return used != t.token, nil
	}
	if t.realm == "" {
		return false, nil
	}
	t.scheme = "bearer"
	token, expires, err := t.fetch(sent)
	if err != nil {
		return false, err
	}
	t.token, t.expires = token, expires
	return token != "", nil
}

// want adds scopes to those the next token asks for.
func (t *authTransport) want(scopes []Scope) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.scopes = mergeScopes(append(t.scopes, scopes...))
}

// parseScope reads "repository:team/app:pull,push"; other resource types
// are not this client's business.
func parseScope(s string) (Scope, bool) {
	first, last := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
	if first < 0 || last <= first || s[:first] != "repository" {
		return Scope{}, false
	}
	var actions []string
	for _, a := range strings.Split(s[last+1:], ",") {
		if a != "" {
			actions = append(actions, a)
		}
	}
	return Scope{Repository: s[first+1 : last], Actions: actions}, true
}

// covers reports whether have grants every action of want.
func covers(have, want []Scope) bool {
	for _, w := range want {
		i := slices.IndexFunc(have, func(h Scope) bool { return h.Repository == w.Repository })
		if i < 0 && len(w.Actions) > 0 {
			return false
		}
		for _, a := range w.Actions {
			if !contains(have[i].Actions, a) {
				return false
			}
		}
	}
	return true
}

// scopeStrings renders scopes as a token request names them.
func scopeStrings(scopes []Scope) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, canonicalScope("repository:"+s.Repository+":"+strings.Join(s.Actions, ",")))
	}
	return out
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

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
