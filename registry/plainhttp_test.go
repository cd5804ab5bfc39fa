package registry

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
)

// TestNoCredentialsOverPlainHTTP: a registry reached over HTTPS (not marked
// insecure) that sends the client to plain HTTP on its own host and port
// gets no credentials there, and its plain-HTTP challenge goes unanswered:
// anyone on the path would read them. An insecure registry is reached over
// plain HTTP by choice, and gets them: the guard is the insecure flag, not
// the scheme alone.
func TestNoCredentialsOverPlainHTTP(t *testing.T) {
	tests := map[string]struct {
		insecure bool
		// plain answers the plain-HTTP request: the blob, or a challenge.
		plain     func(w http.ResponseWriter, r *http.Request)
		wantAuth  bool // credentials reach plain HTTP
		wantError bool
	}{
		"serves the blob": {
			plain: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(testBlob) },
		},
		"challenges": {
			plain:     func(w http.ResponseWriter, r *http.Request) { basicGuard(w, r, "alice", "s3cret") },
			wantError: true,
		},
		"insecure registry": {
			insecure: true,
			plain: func(w http.ResponseWriter, r *http.Request) {
				if basicGuard(w, r, "alice", "s3cret") {
					_, _ = w.Write(testBlob)
				}
			},
			wantAuth: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := startDualHost(t, func(w http.ResponseWriter, r *http.Request) {
				if !basicGuard(w, r, "alice", "s3cret") {
					return
				}
				// The same host and port, downgraded to plain HTTP.
				w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"?plain=1")
				w.WriteHeader(http.StatusTemporaryRedirect)
			}, tc.plain)
			c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull"}}}, Options{
				Insecure: tc.insecure, TLS: func(string) (*tls.Config, error) { return &tls.Config{RootCAs: reg.roots}, nil }, Credentials: Credentials{Username: "alice", Password: "s3cret"},
			})
			b, err := c.ReadBlob(context.Background(), "app", testBlobDigest, 1<<20)
			if tc.wantError != (err != nil) {
				t.Fatalf("ReadBlob error = %v, want an error: %v", err, tc.wantError)
			}
			if err == nil && string(b) != string(testBlob) {
				t.Errorf("ReadBlob = %q, want %q", b, testBlob)
			}
			plain := reg.plain.Log()
			if len(plain) == 0 {
				t.Fatal("the client never followed the redirect to plain HTTP: the test proves nothing")
			}
			if n := reg.plain.Authorized(); (n > 0) != tc.wantAuth {
				t.Errorf("credentials reached plain HTTP on %d of %d requests; want them there: %v", n, len(plain), tc.wantAuth)
			}
			if !tc.insecure && reg.tls.Authorized() == 0 {
				t.Error("the registry received no credentials over HTTPS: the test proves nothing")
			}
		})
	}
}

// dualHost is one loopback address and port serving HTTPS and plain HTTP,
// told apart by the first byte of a connection, as a misconfigured
// registry or a proxy in front of one may do. Each side is a stub host
// answering through its handler and recording its requests; their own
// listeners are not used.
type dualHost struct {
	Host       string
	roots      *x509.CertPool
	tls, plain *registrystub.Stub
}

func startDualHost(t *testing.T, tlsHandler, plainHandler http.HandlerFunc) *dualHost {
	t.Helper()
	d := &dualHost{tls: startHost(t, "127.0.0.1", tlsHandler), plain: startHost(t, "127.0.0.1", plainHandler)}
	// httptest makes the certificate (for 127.0.0.1); its listener is not used.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	d.roots = x509.NewCertPool()
	d.roots.AddCert(srv.Certificate())
	tlsConfig := srv.TLS.Clone()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.Host = l.Addr().String()
	tlsLn, plainLn := newChanListener(l.Addr()), newChanListener(l.Addr())
	tlsSrv := &http.Server{Handler: d.tls, TLSConfig: tlsConfig}
	plainSrv := &http.Server{Handler: d.plain}
	go func() { _ = tlsSrv.ServeTLS(tlsLn, "", "") }()
	go func() { _ = plainSrv.Serve(plainLn) }()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(conn)
				first, err := br.Peek(1)
				if err != nil {
					conn.Close()
					return
				}
				to := plainLn
				if first[0] == 0x16 { // a TLS handshake record
					to = tlsLn
				}
				select {
				case to.ch <- &peekedConn{Conn: conn, r: br}:
				case <-to.done:
					conn.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		tlsLn.Close()
		plainLn.Close()
		tlsSrv.Close()
		plainSrv.Close()
	})
	return d
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener hands out the connections sent on ch.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
