// Package harness runs throwaway registries (docker-registry 2.8, or through
// tools/registry distribution v3 and go-containerregistry) and talks to
// them directly, so the e2e tests can set up and check registry state without
// going through the code under test.
package harness

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is the distribution binary that Start runs.
var RegistryBinary = "docker-registry"

// DefaultCertsDir is where both the Docker engine and containers/image look
// for per-registry CA certificates (<dir>/<host:port>/ca.crt).
const DefaultCertsDir = "/etc/docker/certs.d"

// RegistryOptions configure a registry process.
type RegistryOptions struct {
	// Impl is the registry implementation: "" or ImplDockerRegistry (the
	// default), ImplDistribution, ImplGGCR or ImplOlareg. The last three serve plain HTTP
	// without auth and always accept DELETE; TLS and Htpasswd are refused.
	Impl string
	// TLS serves HTTPS with a certificate from a throwaway CA, whose ca.crt is
	// installed into CertsDir/<host:port>/ while the registry runs.
	TLS bool
	// Htpasswd enables basic authentication with these users and passwords.
	Htpasswd map[string]string
	// DeleteEnabled sets storage.delete.enabled.
	DeleteEnabled bool
	// ForeignURLs accepts manifests whose layers have http(s) URLs (foreign
	// layers), which docker-registry refuses unless configured to allow.
	ForeignURLs bool
	// CertsDir overrides DefaultCertsDir. "-" installs the CA nowhere.
	CertsDir string
	// Dir holds config, storage and logs. Empty means a new temporary
	// directory, removed by Close.
	Dir string
}

// Request is one HTTP request the registry served, from its access log.
type Request struct {
	Method string
	Path   string // without the query
	Query  string // raw query, without '?'
	Status int
}

var repoPathRE = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags)/`)

// Repo returns the repository a /v2/<repo>/{manifests,blobs,tags}/ request
// addressed, or "".
func (r Request) Repo() string {
	if m := repoPathRE.FindStringSubmatch(r.Path); m != nil {
		return m[1]
	}
	return ""
}

// IsManifest reports whether the request addressed /v2/<repo>/manifests/.
func (r Request) IsManifest() bool { return strings.Contains(r.Path, "/manifests/") }

// IsBlob reports whether the request addressed /v2/<repo>/blobs/ (including uploads).
func (r Request) IsBlob() bool { return strings.Contains(r.Path, "/blobs/") }

func (r Request) String() string {
	p := r.Path
	if r.Query != "" {
		p += "?" + r.Query
	}
	return fmt.Sprintf("%s %s %d", r.Method, p, r.Status)
}

// Requests is a request log, with filters for assertions.
type Requests []Request

// Filter returns the requests for which keep is true.
func (rs Requests) Filter(keep func(Request) bool) Requests {
	var out Requests
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// ForRepo keeps the requests that addressed repo.
func (rs Requests) ForRepo(repo string) Requests {
	return rs.Filter(func(r Request) bool { return r.Repo() == repo })
}

// Method keeps the requests with this HTTP method.
func (rs Requests) Method(m string) Requests {
	return rs.Filter(func(r Request) bool { return r.Method == m })
}

// Count counts the requests with this method whose path contains substr
// ("" matches all).
func (rs Requests) Count(method, substr string) int {
	return len(rs.Filter(func(r Request) bool {
		return (method == "" || r.Method == method) && strings.Contains(r.Path, substr)
	}))
}

func (rs Requests) String() string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Registry is a running docker-registry process.
type Registry struct {
	Host       string         // "127.0.0.1:PORT"
	URL        string         // "http://127.0.0.1:PORT" or "https://…"
	CACertPool *x509.CertPool // nil without TLS
	CACertPEM  []byte         // nil without TLS
	CACertFile string         // the installed ca.crt, "" if none
	Users      map[string]string
	Dir        string
	Impl       string // the implementation running (RegistryOptions.Impl)

	opts    RegistryOptions
	ownDir  bool
	certDir string // CertsDir/<host>, removed by Close
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logFile *os.File
	http    *http.Client
	admin   *Client

	log     AccessLog
	mu      sync.Mutex
	logTail []string
	closed  atomic.Bool
}

// StartRegistry starts a registry for a test and stops it in tb.Cleanup.
func StartRegistry(tb testing.TB, opts RegistryOptions) *Registry {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	r, err := Start(opts)
	if err != nil {
		tb.Fatalf("starting registry: %v", err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// Start starts a registry on a free loopback port and waits until /v2/
// answers. The caller must Close it.
func Start(opts RegistryOptions) (*Registry, error) {
	switch opts.Impl {
	case "", ImplDockerRegistry:
		opts.Impl = ImplDockerRegistry
	case ImplDistribution, ImplGGCR, ImplOlareg:
		return startTool(opts)
	default:
		return nil, fmt.Errorf("registry implementation %q: accepted are %s", opts.Impl, strings.Join(Impls, ", "))
	}
	if _, err := exec.LookPath(RegistryBinary); err != nil {
		return nil, fmt.Errorf("%s not found: install the Debian package docker-registry", RegistryBinary)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := start(opts)
		if err == nil {
			return r, nil
		}
		lastErr = err
		// Another process may have taken the port between our probe and the
		// registry's bind; try again with a new one.
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// startPiped starts a registry process that dies with the test binary,
// with its stdout and stderr piped for the logs the harness reads.
func startPiped(cmd *exec.Cmd) (stdout, stderr io.ReadCloser, err error) {
	dieWithParent(cmd)
	if stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, nil, err
	}
	if stderr, err = cmd.StderrPipe(); err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return stdout, stderr, nil
}

func start(opts RegistryOptions) (_ *Registry, retErr error) {
	r, err := newRegistry(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = r.Close()
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r.Host = "127.0.0.1:" + strconv.Itoa(port)
	scheme := "http"
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if opts.TLS {
		scheme = "https"
		certs, err := newCertBundle()
		if err != nil {
			return nil, err
		}
		r.CACertPool, r.CACertPEM = certs.pool, certs.caPEM
		transport.TLSClientConfig = &tls.Config{RootCAs: certs.pool}
		if err := writeFiles(r.Dir, map[string][]byte{"ca.crt": certs.caPEM, "server.crt": certs.certPEM, "server.key": certs.keyPEM}); err != nil {
			return nil, err
		}
		if err := r.installCA(); err != nil {
			return nil, err
		}
	}
	r.URL = scheme + "://" + r.Host
	r.http = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	r.log.SetEndpoint(r.URL, r.http, r.done)
	if len(opts.Htpasswd) > 0 {
		r.Users = opts.Htpasswd
		if err := writeHtpasswd(filepath.Join(r.Dir, "htpasswd"), opts.Htpasswd); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(r.Dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(r.config()), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	if r.logFile, err = os.Create(filepath.Join(r.Dir, "registry.log")); err != nil {
		return nil, err
	}

	r.cmd = exec.Command(RegistryBinary, "serve", cfg)
	r.cmd.Dir = r.Dir
	r.cmd.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true")
	stdout, stderr, err := startPiped(r.cmd)
	if err != nil {
		return nil, err
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); r.readAccessLog(stdout) }()
	go func() { defer pipes.Done(); r.readAppLog(stderr) }()
	go func() {
		pipes.Wait() // Wait closes the pipes; drain them first
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()

	if err := r.waitReady(15 * time.Second); err != nil {
		return nil, err
	}
	r.admin = r.newClient(r.firstUser())
	return r, nil
}

// config renders the distribution configuration. Requests are taken from the
// access log (stdout); the logrus application log (stderr) also logs most
// requests as "response completed", but not all of them, so only one source
// is parsed.
func (r *Registry) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %t
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: docker-mlist-e2e-secret
`, filepath.Join(r.Dir, "storage"), r.opts.DeleteEnabled, r.Host)
	if r.opts.TLS {
		fmt.Fprintf(&b, "  tls:\n    certificate: %s\n    key: %s\n",
			filepath.Join(r.Dir, "server.crt"), filepath.Join(r.Dir, "server.key"))
	}
	if r.opts.ForeignURLs {
		b.WriteString("validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n")
	}
	if len(r.opts.Htpasswd) > 0 {
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: docker-mlist-e2e\n    path: %s\n", filepath.Join(r.Dir, "htpasswd"))
	}
	return b.String()
}

func (r *Registry) installCA() error {
	dir := r.opts.CertsDir
	if dir == "-" {
		return nil
	}
	if dir == "" {
		dir = DefaultCertsDir
	}
	hostDir := filepath.Join(dir, r.Host)
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return fmt.Errorf("installing the test CA for %s (the Docker engine and the plugin read %s; run as root or set RegistryOptions.CertsDir): %w", r.Host, dir, err)
	}
	r.certDir = hostDir
	r.CACertFile = filepath.Join(hostDir, "ca.crt")
	return os.WriteFile(r.CACertFile, r.CACertPEM, 0o644)
}

func (r *Registry) firstUser() (string, string) {
	names := make([]string, 0, len(r.Users))
	for u := range r.Users {
		names = append(names, u)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", ""
	}
	return names[0], r.Users[names[0]]
}

func (r *Registry) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-r.done:
			return fmt.Errorf("%s exited early (%v):\n%s", RegistryBinary, r.waitErr, r.LogTail())
		default:
		}
		resp, err := r.http.Get(r.URL + "/v2/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s not ready after %v (last error %v):\n%s", RegistryBinary, r.Host, timeout, err, r.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the registry and removes the CA it installed (and its
// directory if Start created it).
func (r *Registry) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	if r.logFile != nil {
		r.logFile.Close()
	}
	var errs []error
	if r.certDir != "" {
		errs = append(errs, os.RemoveAll(r.certDir))
	}
	if r.ownDir {
		errs = append(errs, os.RemoveAll(r.Dir))
	}
	return errors.Join(errs...)
}

// Ref returns "127.0.0.1:PORT/<repoAndTag>", e.g. Ref("app:v1").
func (r *Registry) Ref(repoAndTag string) string { return r.Host + "/" + repoAndTag }

// DigestRef returns "127.0.0.1:PORT/<repo>@<digest>".
func (r *Registry) DigestRef(repo, digest string) string { return r.Host + "/" + repo + "@" + digest }

// Client returns a direct client logged in as the alphabetically first
// htpasswd user (anonymous when there are none).
func (r *Registry) Client() *Client { return r.admin }

// ClientAs returns a direct client with these credentials ("" for anonymous).
func (r *Registry) ClientAs(user, password string) *Client { return r.newClient(user, password) }

func (r *Registry) newClient(user, password string) *Client {
	return NewClient(r.Host, ClientOptions{TLS: r.opts.TLS, RootCAs: r.CACertPool, Username: user, Password: password})
}

func (r *Registry) readAccessLog(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		_, _ = fmt.Fprintln(r.logFile, line)
		if !r.log.Add(line) {
			r.appendTail(line)
		}
	}
}

func (r *Registry) readAppLog(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		_, _ = fmt.Fprintln(r.logFile, sc.Text())
		r.appendTail(sc.Text())
	}
}

func (r *Registry) appendTail(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logTail = append(r.logTail, line)
	if len(r.logTail) > 100 {
		r.logTail = r.logTail[len(r.logTail)-100:]
	}
}

// LogTail returns the last lines the registry logged, for failure messages.
// The full log is in Dir/registry.log.
func (r *Registry) LogTail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logTail, "\n")
}

// Requests returns every request served since start or the last
// ResetRequests, up to a marker request (AccessLog).
func (r *Registry) Requests() Requests { return r.log.Requests() }

// Mark returns a position in the request log for RequestsSince. Prefer it to
// ResetRequests on a registry that other tests share.
func (r *Registry) Mark() int { return r.log.Mark() }

// RequestsSince returns the requests served after Mark returned mark.
func (r *Registry) RequestsSince(mark int) Requests { return r.log.RequestsSince(mark) }

// ResetRequests forgets the requests logged so far.
func (r *Registry) ResetRequests() { r.log.Reset() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeFiles(dir string, files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writeHtpasswd(path string, users map[string]string) error {
	var b bytes.Buffer
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// newRegistry is a Registry not yet started, with its own temporary
// directory unless opts names one.
func newRegistry(opts RegistryOptions) (*Registry, error) {
	r := &Registry{opts: opts, Dir: opts.Dir, Impl: opts.Impl, done: make(chan struct{})}
	if r.Dir == "" {
		d, err := os.MkdirTemp("", "e2e-registry-")
		if err != nil {
			return nil, err
		}
		r.Dir, r.ownDir = d, true
	}
	return r, nil
}
