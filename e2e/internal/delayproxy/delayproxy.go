// Package delayproxy is a loopback reverse proxy in front of a registry that
// adds a fixed delay to every request and counts what it forwarded, so a
// benchmark can price round trips the way a remote registry would.
package delayproxy

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one request the proxy forwarded.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
}

func (r Request) String() string {
	p := r.Path
	if r.Query != "" {
		p += "?" + r.Query
	}
	return r.Method + " " + p + " " + strconv.Itoa(r.Status)
}

// Proxy forwards http://Host/... to its target after Delay.
type Proxy struct {
	Host  string // "127.0.0.1:PORT"
	Delay time.Duration

	srv *http.Server
	ln  net.Listener

	mu  sync.Mutex
	log []Request
}

// Start listens on a free loopback port and forwards to target, a plain
// HTTP registry URL ("http://127.0.0.1:PORT"), which must be on loopback
// too. The Host header is passed through unchanged, so the registry writes
// upload Locations that point back at the proxy.
func Start(target string, delay time.Duration) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return nil, errors.New("delayproxy: target must be a plain HTTP loopback URL, not " + target)
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
	p := &Proxy{Host: ln.Addr().String(), Delay: delay, ln: ln}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(p.Delay)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.log = append(p.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
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

// Requests returns what the proxy forwarded since start or Reset.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
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

// Summary renders requests one per line.
func Summary(rs []Request) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
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
