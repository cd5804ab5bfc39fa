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
	"net"
	"net/http"
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
	// chunked is set when the registry refused a blob in one request: later
	// uploads go in chunks.
	chunked atomic.Bool
	// requests counts the requests the registry's API answered.
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
