package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/tokenserver"
)

// authRegistryOptions configure a registry the harness does not offer:
// token auth, another listen address, client-certificate TLS.
type authRegistryOptions struct {
	// IP to listen on (default 127.0.0.1); Name is the host name clients use
	// instead of the IP (an /etc/hosts entry), if any.
	IP, Name string
	// Token makes the registry use this token server.
	Token *tokenserver.Server
	// TLS serves HTTPS with a certificate for IP and Name from a fresh CA;
	// ClientCAs additionally requires a client certificate signed by it.
	TLS, ClientCAs bool
}

// authReg is a docker-registry process started by startAuthRegistry.
type authReg struct {
	Host string // Name or IP, with the port
	URL  string
	Dir  string
	CA   *testCA // with TLS

	cmd  *exec.Cmd
	http *http.Client
	// log is the access log, read up to a marker request: with token auth
	// the marker is answered 401, and logged all the same.
	log  harness.AccessLog
	mu   sync.Mutex
	tail []string
}

func startAuthRegistry(t testing.TB, opts authRegistryOptions) *authReg {
	t.Helper()
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", opts.IP+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", opts.IP, err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	r := &authReg{Dir: dir, Host: net.JoinHostPort(opts.IP, port)}
	if opts.Name != "" {
		r.Host = net.JoinHostPort(opts.Name, port)
	}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		// Always the loopback address, whatever name the URL carries.
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(opts.IP, port))
	}}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n  secret: mlist-e2e\n", filepath.Join(dir, "storage"), net.JoinHostPort(opts.IP, port))
	scheme := "http"
	if opts.TLS {
		scheme = "https"
		r.CA = newTestCA(t)
		crt, key := r.CA.issue(t, dir, "server", opts.IP, opts.Name)
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %s\n    key: %s\n", crt, key)
		tc := &tls.Config{RootCAs: r.CA.pool}
		if opts.ClientCAs {
			fmt.Fprintf(&cfg, "    clientcas:\n      - %s\n", r.CA.file)
			ccrt, ckey := r.CA.issue(t, dir, "harness-client", "", "")
			pair, err := tls.LoadX509KeyPair(ccrt, ckey)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		transport.TLSClientConfig = tc
	}
	if opts.Token != nil {
		fmt.Fprintf(&cfg, "auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			opts.Token.Realm, tokenserver.Service, tokenserver.Issuer, opts.Token.BundleFile)
	}
	r.URL = scheme + "://" + r.Host
	r.http = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(harness.RegistryBinary, "serve", cfgFile)
	r.cmd.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true")
	stdout, _ := r.cmd.StdoutPipe()
	stderr, _ := r.cmd.StderrPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	r.log.SetEndpoint(r.URL, r.http, done)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); r.readLog(stdout, true) }()
	go func() { defer pipes.Done(); r.readLog(stderr, false) }()
	go func() { pipes.Wait(); _ = r.cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-done })
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := r.http.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("registry exited:\n%s", r.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry not ready: %v\n%s", err, r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

func (r *authReg) readLog(rd io.Reader, access bool) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if access && r.log.Add(line) {
			continue
		}
		r.mu.Lock()
		r.tail = append(r.tail, line)
		if len(r.tail) > 50 {
			r.tail = r.tail[1:]
		}
		r.mu.Unlock()
	}
}

func (r *authReg) logTail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.tail, "\n")
}

// Mark and RequestsSince read the access log up to a marker request.
func (r *authReg) Mark() int { return r.log.Mark() }

func (r *authReg) RequestsSince(mark int) harness.Requests { return r.log.RequestsSince(mark) }

// Client is a direct client for setting up and checking content.
func (r *authReg) Client(user, password string) *harness.Client {
	opts := harness.ClientOptions{Username: user, Password: password}
	if r.CA != nil {
		opts.TLS, opts.RootCAs = true, r.CA.pool
	}
	return harness.NewClient(r.Host, opts)
}

func (r *authReg) Ref(s string) string { return r.Host + "/" + s }

// testCA is a throwaway CA for server and client certificates.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
	file string
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "docker-mlist e2e auth CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{key: key, cert: cert, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca.file, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue writes name.crt and name.key into dir: a server certificate for ip
// and dnsName, or a client certificate when both are empty.
func (ca *testCA) issue(t testing.TB, dir, name, ip, dnsName string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if ip == "" && dnsName == "" {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if ip != "" {
			tmpl.IPAddresses = []net.IP{net.ParseIP(ip)}
		}
		if dnsName != "" {
			tmpl.DNSNames = []string{dnsName}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return crt, kf
}
