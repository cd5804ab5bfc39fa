// Package proxy is a loopback reverse proxy in front of a registry process
// that logs what it forwards and can add a delay to every request (so a
// benchmark prices round trips the way a remote registry would) or let a test
// step in: answer a request itself, or act before one is forwarded.
package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Options tune a Proxy.
type Options struct {
	// Delay is added before each request is forwarded.
	Delay time.Duration
	// Intercept, when set, sees every request first and answers it itself
	// by returning true; returning false forwards it.
	Intercept func(w http.ResponseWriter, r *http.Request) bool
}

// Proxy forwards http://Host/... to its target.
type Proxy struct {
	Host string // "127.0.0.1:PORT"

	opts Options
	srv  *http.Server
	ln   net.Listener

	mu  sync.Mutex
	log harness.Requests
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
	p := &Proxy{Host: ln.Addr().String(), opts: opts, ln: ln}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(p.opts.Delay)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		if p.opts.Intercept == nil || !p.opts.Intercept(rec, r) {
			rp.ServeHTTP(rec, r)
		}
		p.mu.Lock()
		p.log = append(p.log, harness.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
		p.mu.Unlock()
	}), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Requests returns what the proxy served since start or Reset.
func (p *Proxy) Requests() harness.Requests {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(harness.Requests(nil), p.log...)
}

// Count is len(Requests()).
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// Reset forgets the requests logged so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.log = nil
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
