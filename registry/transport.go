package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hostTransports sends each request through a transport made for its host,
// so that what was set up for the registry (an insecure registry's
// skip-verify, its client certificate from certs.d) never applies to its
// token realm or to a host it redirects to: those are verified as any host
// is, with their own certs.d entry where one exists.
type hostTransports struct {
	registry string // the registry's API host
	own      http.RoundTripper
	tlsFor   func(host string) (*tls.Config, error)
	build    func(*tls.Config) *http.Transport

	mu     sync.Mutex
	others map[string]http.RoundTripper
}

func (t *hostTransports) RoundTrip(req *http.Request) (*http.Response, error) {
	rt, err := t.forHost(req.URL)
	if err != nil {
		return nil, err
	}
	return rt.RoundTrip(req)
}

func (t *hostTransports) forHost(u *url.URL) (http.RoundTripper, error) {
	host := strings.ToLower(u.Hostname())
	if u.Port() != "" {
		host = net.JoinHostPort(host, u.Port())
	}
	if canonicalAddress(host, "https") == canonicalAddress(t.registry, "https") {
		return t.own, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rt, ok := t.others[host]; ok {
		return rt, nil
	}
	var cfg *tls.Config
	if t.tlsFor != nil {
		c, err := t.tlsFor(host)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	rt := t.build(withDefaults(cfg))
	if t.others == nil {
		t.others = map[string]http.RoundTripper{}
	}
	t.others[host] = rt
	return rt, nil
}

// withDefaults is a copy of cfg, or the system roots when cfg is nil.
func withDefaults(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return cfg.Clone()
}

// streamKey marks a request whose body is a blob: it is bounded by its
// throughput, not by a total time, since a layer of gigabytes takes long
// on any line.
type streamKey struct{}

func streaming(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamKey{}, true)
}

// idleTransport bounds every answer in time. A body that delivers nothing
// for idle while being read ends with a stallError. A small answer (a
// token, a manifest, an error, a tags page) must be complete within total:
// counted from the start for a request without a streamed body, from the
// headers for an upload (whose sending is not the answer's fault). A blob
// body must keep above minRate bytes per second, measured over each window
// of time spent reading it. Only time spent inside Read counts, so a slow
// consumer (an upload fed from this body) is not mistaken for a slow
// server. Each ends the request like a cut connection, and is retried
// where the read is.
type idleTransport struct {
	next    http.RoundTripper
	idle    time.Duration
	total   time.Duration
	minRate int64
	window  time.Duration
}

func (t *idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	b := &idleBody{idle: t.idle, cancel: cancel}
	stream := req.Context().Value(streamKey{}) != nil
	uploading := req.Body != nil && req.Body != http.NoBody && req.GetBody == nil
	if !stream && !uploading {
		b.startDeadline(t.total)
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		b.stop()
		cancel()
		if b.expired.Load() {
			return nil, b.expiredError()
		}
		return nil, err
	}
	switch {
	case stream && resp.StatusCode/100 == 2:
		b.minRate, b.window = t.minRate, t.window
	case b.deadline == nil:
		b.startDeadline(t.total)
	}
	b.body = resp.Body
	b.timer = time.AfterFunc(t.idle, func() {
		b.stalled.Store(true)
		cancel()
	})
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

type idleBody struct {
	body    io.ReadCloser
	idle    time.Duration
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool

	total    time.Duration
	deadline *time.Timer
	expired  atomic.Bool

	minRate int64
	window  time.Duration
	spent   time.Duration // reading, since the window began
	got     int64         // bytes received since the window began

	// failed is the stall that ended the body, returned by every later
	// Read: the cancelled body beneath would say only "context canceled".
	failed error
}

func (b *idleBody) startDeadline(total time.Duration) {
	b.total = total
	b.deadline = time.AfterFunc(total, func() {
		b.expired.Store(true)
		b.cancel()
	})
}

func (b *idleBody) expiredError() error {
	return &stallError{why: fmt.Sprintf("not complete after %s", b.total)}
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.failed != nil {
		return 0, b.failed
	}
	b.timer.Reset(b.idle)
	start := time.Now()
	n, err := b.body.Read(p)
	b.timer.Stop()
	switch {
	case b.stalled.Load():
		b.failed = &stallError{why: fmt.Sprintf("nothing received for %s", b.idle)}
		return n, b.failed
	case b.expired.Load():
		b.failed = b.expiredError()
		return n, b.failed
	}
	if b.minRate > 0 && err == nil {
		b.spent += time.Since(start)
		b.got += int64(n)
		if b.spent >= b.window {
			if float64(b.got) < float64(b.minRate)*b.spent.Seconds() {
				b.cancel()
				b.failed = &stallError{why: fmt.Sprintf("under %s/s for %s", rateText(b.minRate), b.window)}
				return n, b.failed
			}
			b.spent, b.got = 0, 0
		}
	}
	return n, err
}

func (b *idleBody) stop() {
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.deadline != nil {
		b.deadline.Stop()
	}
}

func (b *idleBody) Close() error {
	b.stop()
	err := b.body.Close()
	b.cancel()
	return err
}

// stallError is an answer that stopped arriving, or arrives too slowly to
// end. It is a timeout, so retryAfter treats it like a cut connection.
type stallError struct{ why string }

func (e *stallError) Error() string   { return "the answer stalled: " + e.why }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

func rateText(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// logTransport writes one line per request to the debug log (--debug).
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
