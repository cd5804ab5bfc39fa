// Package registry is a small client for the distribution (OCI) registry API.
//
// It exists because the operations docker-mlist performs on lists (read a
// manifest, mount a blob, put a manifest by digest) are a handful of HTTP
// requests each, and the general-purpose clients repeat the /v2/ ping and the
// token request for every image they open. A Client pings /v2/ only when the
// registry's first answer calls for it (a refusal without a challenge, or a
// 404 hiding a repository from anonymous requests): its first request settles
// the scheme and answers the registry's challenge, with one token covering
// every repository the command will touch. Credentials go to the registry's
// own host and its token realm only, and every request is bounded in time.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
)

// Scope is access to one repository that a command needs.
type Scope struct {
	Repository string
	Actions    []string // "pull", "push", "delete"
}

// Client talks to one registry host.
type Client struct {
	Host string // "registry.example.com:5000", as in references

	opts   Options
	tls    *tls.Config
	tlsErr error // reading the registry's certificates failed
	http   *http.Client
	auth   *authTransport

	// first serialises the requests of a client with credentials until one
	// has gone through, so the registry's challenge is met once, not by
	// every request of a concurrent start.
	first   sync.Mutex
	settled atomic.Bool
	// plain is set when an insecure registry turned out to speak HTTP.
	plain atomic.Bool
	// requests counts the requests sent to the registry's API.
	requests *atomic.Int64
}

// Manifest media types a client accepts, in the order registries should prefer.
var acceptManifest = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
	"application/vnd.docker.distribution.manifest.v1+json",
}

// APIHost maps a reference domain to the host that serves its API.
func APIHost(domain string) string {
	if domain == "docker.io" || domain == "index.docker.io" {
		return "registry-1.docker.io"
	}
	return domain
}

// New returns a client for host, authorised for scopes. It makes no
// request: the first request finds the scheme (HTTPS, or HTTP for an
// insecure registry) and answers the registry's challenge, with one token
// covering every scope on token-auth registries.
func New(host string, scopes []Scope, opts Options) *Client {
	apiHost := APIHost(host)
	var own *tls.Config
	var tlsErr error
	if opts.TLS != nil {
		own, tlsErr = opts.TLS(host)
	}
	tlsConfig := withDefaults(own)
	if opts.Insecure {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // the user marked this registry insecure
	}
	// Other hosts (realm, redirects) are never dialled on a link-local
	// address, whatever their name resolves to, unless the registry itself
	// is on one: the cloud metadata service is no place to send a request.
	var guard func(string, string, syscall.RawConn) error
	if addressClass(hostOnly(apiHost)) != classLinkLocal {
		guard = refuseLinkLocal
	}
	var rt http.RoundTripper = &hostTransports{
		registry: apiHost,
		own:      newHTTPTransport(opts, tlsConfig, nil),
		tlsFor:   opts.TLS,
		build:    func(cfg *tls.Config) *http.Transport { return newHTTPTransport(opts, cfg, guard) },
	}
	rt = bounded(rt, opts)
	requests := new(atomic.Int64)
	rt = &countingTransport{next: rt, host: apiHost, n: requests}
	if opts.Log != nil {
		rt = &logTransport{next: rt, log: opts.Log}
	}
	auth := &authTransport{
		next:      rt,
		host:      apiHost,
		insecure:  opts.Insecure,
		creds:     opts.Credentials,
		lookup:    opts.LookupCredentials,
		scopes:    mergeScopes(scopes),
		userAgent: opts.UserAgent,
	}
	if auth.creds != (Credentials{}) || auth.lookup == nil {
		auth.lookup = nil
		auth.looked = true
	}
	return &Client{
		Host:     host,
		opts:     opts,
		tls:      tlsConfig,
		tlsErr:   tlsErr,
		http:     &http.Client{Transport: auth},
		auth:     auth,
		requests: requests,
	}
}

// newHTTPTransport is the connection layer of every client: opts' dial and
// header deadlines, cfg for TLS, control checking each address dialled.
func newHTTPTransport(opts Options, cfg *tls.Config, control func(string, string, syscall.RawConn) error) *http.Transport {
	dial := orDefault(opts.DialTimeout, DefaultDialTimeout)
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second, Control: control}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: orDefault(opts.HeaderTimeout, DefaultHeaderTimeout),
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
}

// bounded bounds every answer through rt in time (idleTransport).
func bounded(rt http.RoundTripper, opts Options) http.RoundTripper {
	t := &idleTransport{
		next:    rt,
		idle:    orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		total:   orDefault(opts.TotalTimeout, DefaultTotalTimeout),
		minRate: opts.MinRate,
		window:  orDefault(opts.RateWindow, DefaultRateWindow),
	}
	if opts.MinRate == 0 {
		t.minRate = DefaultMinRate
	}
	return t
}

// OtherHostClient is an HTTP client for a URL that content names on a host
// that is no registry (a foreign layer's): it carries no credentials and no
// registry's TLS settings, never dials a link-local address, and bounds its
// answers as a registry client does; a request made with BlobContext is
// bounded by its throughput rather than a total time.
func OtherHostClient(opts Options) *http.Client {
	return &http.Client{Transport: bounded(newHTTPTransport(opts, withDefaults(nil), refuseLinkLocal), opts)}
}

// BlobContext marks the requests made with ctx as reading blobs.
func BlobContext(ctx context.Context) context.Context { return streaming(ctx) }

// Want adds access to repo to what the client's tokens ask for: the next
// request fetches a token that covers it. Commands declare scopes before
// the first request where they can (Session.Want); this is for a scope
// found to be needed later.
func (c *Client) Want(repo string, actions ...string) {
	c.auth.want([]Scope{{Repository: repo, Actions: actions}})
}

// firstRequest sends the client's first request, which settles the scheme
// and the authentication every later request reuses; others wait for it.
func (c *Client) firstRequest(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if own := ownError(err); own != nil {
		return nil, own
	}
	if err != nil && c.opts.Insecure && req.URL.Scheme == "https" {
		// An insecure registry may speak plain HTTP, as Docker allows.
		plain := req.Clone(req.Context())
		plain.URL.Scheme = "http"
		if req.GetBody != nil {
			plain.Body, _ = req.GetBody()
		}
		resp2, err2 := c.http.Do(plain)
		if err2 == nil {
			c.plain.Store(true)
			return resp2, nil
		}
		if own := ownError(err2); own != nil {
			return nil, own
		}
		if isTLSMismatch(err) {
			// The registry speaks HTTP: what went wrong over HTTP is the news.
			err = err2
		}
	}
	if err != nil {
		if !c.opts.Insecure && isTLSMismatch(err) {
			return nil, fmt.Errorf("registry %s answers plain HTTP; mark it insecure (--insecure) to use it", c.Host)
		}
		if clientCertRefused(req.Context(), APIHost(c.Host), c.tls, orDefault(c.opts.DialTimeout, DefaultDialTimeout)) {
			return nil, fmt.Errorf("registry %s requires a client certificate and refused the one sent, if any: Docker reads it from client.cert and client.key in certs.d/%s", c.Host, c.Host)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("registry %s did not answer in time: %w", c.Host, scrub(err))
		}
		return nil, fmt.Errorf("registry %s is not reachable: %w", c.Host, scrub(err))
	}
	return resp, nil
}

// clientCertRefused reports whether the server at host ends the TLS session
// for want of an acceptable client certificate. With TLS 1.3 that alert
// arrives after the handshake, and net/http reports it (over HTTP/2) only as
// a connection that could not be established; a bare TLS connection shows it.
func clientCertRefused(ctx context.Context, host string, cfg *tls.Config, timeout time.Duration) bool {
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(host, "443")
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 5*time.Second))
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		_, err = conn.Read(make([]byte, 1))
	}
	return err != nil && (strings.Contains(err.Error(), "certificate required") || strings.Contains(err.Error(), "bad certificate"))
}

func isTLSMismatch(err error) bool {
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") ||
		strings.Contains(err.Error(), "first record does not look like a TLS handshake")
}

// mergeScopes folds scopes on the same repository together so the token
// request names each repository once.
func mergeScopes(scopes []Scope) []Scope {
	var out []Scope
	index := map[string]int{}
	for _, s := range scopes {
		i, ok := index[s.Repository]
		if !ok {
			index[s.Repository] = len(out)
			out = append(out, Scope{Repository: s.Repository})
			i = len(out) - 1
		}
		for _, a := range s.Actions {
			if !contains(out[i].Actions, a) {
				out[i].Actions = append(out[i].Actions, a)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type logTransport struct {
	next http.RoundTripper
	log  func(string, ...any)
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Only the path and a mount's source are logged: upload URLs carry
	// registry state and token realms may carry credentials in the query.
	u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}
	if q := req.URL.Query(); q.Get("mount") != "" {
		u.RawQuery = url.Values{"mount": {q.Get("mount")}, "from": {q.Get("from")}}.Encode()
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.log("%s %s: %v", req.Method, u.String(), err)
		return nil, err
	}
	t.log("%s %s -> %d", req.Method, u.String(), resp.StatusCode)
	return resp, nil
}

// Descriptor is what a registry says about a manifest or blob.
type Descriptor struct {
	MediaType string
	Digest    digest.Digest
	Size      int64
}

// base is the registry's URL; requests built on it before the first
// request settled the scheme are switched to HTTP by do when needed.
func (c *Client) base() string {
	if c.plain.Load() {
		return "http://" + APIHost(c.Host)
	}
	return "https://" + APIHost(c.Host)
}

func (c *Client) url(repo, kind, ref string) string {
	return fmt.Sprintf("%s/v2/%s/%s/%s", c.base(), repo, kind, ref)
}

func (c *Client) do(ctx context.Context, method, u string, body io.Reader, header http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, method, u, body, header)
		seeker, rewindable := body.(io.Seeker)
		wait, again := retryAfter(resp, err, attempt)
		if !again || (body != nil && !rewindable) || ctx.Err() != nil {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		if c.opts.Log != nil {
			c.opts.Log("%s %s: retrying in %s", method, c.Host, wait)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if rewindable {
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		}
	}
}

// send makes one attempt of a request; the client's first request also
// settles the scheme and authentication while later ones wait.
func (c *Client) send(ctx context.Context, method, u string, body io.Reader, header http.Header) (*http.Response, error) {
	if c.tlsErr != nil {
		return nil, c.tlsErr
	}
	newRequest := func(u string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return req, nil
	}
	if !c.settled.Load() {
		// With credentials to present, the first answer is likely a
		// challenge: let one request meet it while the others wait, rather
		// than have each collect its own 401. Anonymous clients go at once.
		presents := c.auth.mayPresent()
		if presents {
			c.first.Lock()
		}
		if !c.settled.Load() {
			if presents {
				defer c.first.Unlock()
			}
			req, err := newRequest(u)
			if err != nil {
				return nil, err
			}
			resp, err := c.firstRequest(req)
			if err != nil {
				return nil, err
			}
			c.settled.Store(true)
			return resp, nil
		}
		if presents {
			c.first.Unlock()
		}
	}
	if c.plain.Load() {
		u = strings.Replace(u, "https://", "http://", 1)
	}
	req, err := newRequest(u)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if own := ownError(err); own != nil {
			return nil, own
		}
		return nil, fmt.Errorf("%s %s: %w", method, c.Host, scrub(err))
	}
	return resp, nil
}

// retryBase is the first wait before a retry; later ones double.
var retryBase = time.Second

// maxRetries bounds the retries of one request.
const maxRetries = 3

// retryAfter says whether a request should be sent again, and after how
// long: on throttling (429, honouring Retry-After up to a minute), on a
// registry or gateway that is briefly unavailable (5xx, 408), and on a
// connection that was reset or timed out once established.
func retryAfter(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= maxRetries {
		return 0, false
	}
	wait := retryBase << attempt
	if err != nil {
		// A registry that cannot be dialled is down or misnamed, not blinking:
		// retrying would only delay the error.
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, false
		}
		var ne net.Error
		transient := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
			(errors.As(err, &ne) && ne.Timeout())
		// net/http's own header timeout reports itself as DeadlineExceeded
		// too: callers check their context before retrying.
		return wait, transient && !errors.Is(err, context.Canceled)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			wait = min(time.Duration(secs)*time.Second, time.Minute)
		}
		return wait, true
	}
	return 0, false
}

// scrub removes a URL's query and user info from transport errors; the token
// realm URL may carry both.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User = nil
			u.RawQuery = ""
			return fmt.Errorf("%s: %w", u.String(), ue.Err)
		}
	}
	return err
}

func (c *Client) resolve(loc string) (string, error) {
	if loc == "" {
		return "", errors.New("registry sent no Location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	base, _ := url.Parse(c.base())
	return base.ResolveReference(u).String(), nil
}

// tooLargeError is an answer over the size a client reads whole.
type tooLargeError struct {
	limit int64
	size  int64 // from Content-Length; 0 when unknown
}

func (e *tooLargeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("%d bytes, over the limit of %s", e.size, byteSize(e.limit))
	}
	return "over the limit of " + byteSize(e.limit)
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readError is an answer whose body could not be read.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the answer: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// getBody sends a GET and reads a 200 answer whole, up to limit bytes; a
// body cut or stalled midway is fetched again as a failed request would
// be. Any other status comes back with its body unread, for statusError.
func (c *Client) getBody(ctx context.Context, u string, header http.Header, limit int64) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.do(ctx, http.MethodGet, u, nil, header)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return resp, nil, nil
		}
		if resp.ContentLength > limit {
			// Closed unread: draining a huge body would be the work refused.
			resp.Body.Close()
			return nil, nil, &tooLargeError{limit: limit, size: resp.ContentLength}
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err == nil {
			if int64(len(b)) > limit {
				return nil, nil, &tooLargeError{limit: limit}
			}
			return resp, b, nil
		}
		wait, again := retryAfter(nil, err, attempt)
		if !again || ctx.Err() != nil {
			return nil, nil, &readError{err: err}
		}
		if c.opts.Log != nil {
			c.opts.Log("GET %s: %v; retrying in %s", c.Host, err, wait)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}
