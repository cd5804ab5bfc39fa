// Package proxy is a loopback reverse proxy in front of a registry process
// that logs what it forwards and can add a delay to every request (so a
// benchmark prices round trips the way a remote registry would), let a test
// step in (answer a request itself, or act before one is forwarded), or
// inject faults the way a busy public registry or its gateway does (see
// Faults).
package proxy

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Options tune a Proxy.
type Options struct {
	// Delay is added before each request is forwarded.
	Delay time.Duration
	// Intercept, when set, sees every request first and answers it itself
	// by returning true; returning false forwards it (faults permitting).
	Intercept func(w http.ResponseWriter, r *http.Request) bool
	// Faults are injected into what Intercept lets through; SetFaults
	// changes them while the proxy runs.
	Faults Faults
	// Done, when set, is called as each request has been answered (for
	// timelines).
	Done func(r *http.Request, status int)
}

// Entry is one request of the log, with the order in which requests began
// and ended: Start and End count every beginning and end together, so
// a.End < b.Start means b began after a was answered.
type Entry struct {
	harness.Request
	Start, End int64
	Range      string // the request's Range header
}

// Proxy forwards http://Host/... to its target.
type Proxy struct {
	Host string // "127.0.0.1:PORT"

	opts Options
	srv  *http.Server
	ln   net.Listener
	seq  atomic.Int64
	busy atomic.Int64 // requests begun and not yet answered

	mu       sync.Mutex
	log      []Entry
	faults   Faults
	seen     map[string]int // occurrences of each request key, for the draws
	injected []Injection
}

// Start listens on a free loopback port and forwards to target, a plain
// HTTP registry URL ("http://127.0.0.1:PORT"), which must be on loopback
// too. The Host header is passed through unchanged, so the registry writes
// upload Locations that point back at the proxy.
func Start(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return nil, errors.New("proxy: target must be a plain HTTP loopback URL, not " + target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	tr.DisableCompression = true
	rp.Transport = tr
	// A client that goes away mid-request (killed, or cancelling a cut
	// download) is part of the tests; don't log it as a proxy error.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &Proxy{Host: ln.Addr().String(), opts: opts, ln: ln, faults: opts.Faults, seen: map[string]int{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, rp)
	}), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	start := p.seq.Add(1)
	p.busy.Add(1)
	defer p.busy.Add(-1)
	time.Sleep(p.opts.Delay)
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	// Logged even when a cut body aborts the handler with a panic.
	defer func() {
		p.mu.Lock()
		p.log = append(p.log, Entry{Request: harness.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status},
			Start: start, End: p.seq.Add(1), Range: r.Header.Get("Range")})
		p.mu.Unlock()
		if p.opts.Done != nil {
			p.opts.Done(r, rec.status)
		}
	}()
	if p.opts.Intercept != nil && p.opts.Intercept(rec, r) {
		return
	}
	f, draw, first := p.draws(r)
	if p.inject(rec, r, f, draw, first) {
		return
	}
	if bw := p.bodyFault(rec, r, f, draw); bw != nil {
		rp.ServeHTTP(bw, r)
		return
	}
	rp.ServeHTTP(rec, r)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Requests returns what the proxy served since start or Reset, in the order
// the answers ended.
func (p *Proxy) Requests() harness.Requests {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(harness.Requests, len(p.log))
	for i, e := range p.log {
		out[i] = e.Request
	}
	return out
}

// Log returns Requests with the order in which each began and ended.
func (p *Proxy) Log() []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Entry(nil), p.log...)
}

// InFlight counts the requests begun and not yet answered.
func (p *Proxy) InFlight() int { return int(p.busy.Load()) }

// WaitIdle waits up to timeout until every request begun is answered and
// logged: a client may finish reading a body before the proxy's handler
// returns, or leave a request in flight when it is killed.
func (p *Proxy) WaitIdle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for p.InFlight() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the proxy still has %d requests in flight", p.InFlight())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Count is len(Requests()).
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// Reset forgets the requests logged and the faults injected so far, and
// restarts the fault draws: the same requests meet the same faults again.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.log = nil
	p.injected = nil
	p.seen = map[string]int{}
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets the reverse proxy stream bodies through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
