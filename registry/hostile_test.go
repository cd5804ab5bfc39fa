package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
)

// Hostile token services and servers: a realm that would take the
// credentials somewhere less safe than the registry, TLS settings that
// would follow a redirect, answers that trickle.

// testCA issues certificates for loopback addresses.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA " + t.Name()},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue returns a certificate for ip (a server's) or for a client.
func (ca *testCA) issue(t *testing.T, ip string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "leaf " + ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip != "" {
		tmpl.IPAddresses = []net.IP{net.ParseIP(ip)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// logLines collects a client's --debug lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestRealmRefused: a registry whose token realm is less safe than the
// registry itself gets no token request, and so the realm no password:
// the command fails with one line naming the realm and why.
func TestRealmRefused(t *testing.T) {
	const password = "hunter2-realm-secret"
	// The realm stub that must never be reached; it would grant anything.
	var realmHits atomic.Int32
	realm := startHost(t, "127.0.0.2", func(w http.ResponseWriter, _ *http.Request) {
		realmHits.Add(1)
		_, _ = io.WriteString(w, `{"token":"granted"}`)
	})
	tests := map[string]struct {
		overTLS bool   // the registry is reached over HTTPS
		realm   string // "" is the stub's URL
		want    string
	}{
		"https registry, http realm":      {overTLS: true, want: "its scheme is http while the registry is reached over https"},
		"https registry, metadata realm":  {overTLS: true, realm: "https://169.254.169.254/token", want: "169.254.169.254 is a link-local or unspecified address"},
		"http registry, metadata realm":   {realm: "http://169.254.169.254/latest/meta-data", want: "link-local"},
		"http registry, IPv6 link-local":  {realm: "http://[fe80::1%25eth0]:80/token", want: "link-local"},
		"http registry, unspecified IPv4": {realm: "http://0.0.0.0:" + strings.Split(realm.Host, ":")[1] + "/token", want: "0.0.0.0 is a link-local or unspecified address"},
		"http registry, unspecified IPv6": {realm: "http://[::]:" + strings.Split(realm.Host, ":")[1] + "/token", want: "unspecified"},
		"http registry, numeric address":  {realm: "http://2852039166/token", want: "non-canonical"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			realmURL := tc.realm
			if realmURL == "" {
				realmURL = realm.URL + "/token"
			}
			handler := func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="stub"`, realmURL))
				w.WriteHeader(http.StatusUnauthorized)
			}
			var reg *registrystub.Stub
			if tc.overTLS {
				reg = startTLSHost(t, "127.0.0.1", nil, handler)
			} else {
				reg = startHost(t, "127.0.0.1", handler)
			}
			realmHits.Store(0)
			var log logLines
			c := New(reg.Host, nil, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: password}, Log: log.log})
			_, _, err := c.GetManifest(hangGuard(t), "app", "v1")
			var re *RealmError
			if !errors.As(err, &re) || !re.Refused {
				t.Fatalf("GetManifest error = %v, want a refused realm", err)
			}
			u, _ := url.Parse(realmURL)
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, u.Hostname()) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q, want one line naming %s and saying %q", msg, u.Hostname(), tc.want)
			}
			if n := realmHits.Load(); n != 0 {
				t.Errorf("the realm received %d requests, want none", n)
			}
			if strings.Contains(log.String(), u.Hostname()) {
				t.Errorf("a request went to the realm:\n%s", log.String())
			}
			if got := reg.Hits(http.MethodGet, "/v2/app/manifests/v1"); got != 1 {
				t.Errorf("registry saw %d manifest requests, want 1 (a refused realm is not retried)", got)
			}
			if reg.Authorized() != 0 || strings.Contains(err.Error(), password) || strings.Contains(log.String(), password) {
				t.Errorf("the password went out or was printed: error %q, log:\n%s", err, log.String())
			}
		})
	}
}

// TestCheckRealm is the rule of which realms may receive a registry's
// credentials.
func TestCheckRealm(t *testing.T) {
	tests := []struct {
		registry, realm string
		ok              bool
	}{
		{"https://registry.example", "https://auth.example/token", true},
		{"https://registry.example", "http://auth.example/token", false},
		{"http://registry.example", "http://auth.example/token", true},
		{"https://registry.example", "https://169.254.169.254/token", false},
		{"https://registry.example", "https://[fe80::1]/token", false},
		{"https://registry.example", "https://[::ffff:169.254.169.254]/token", false},
		{"https://registry.example", "https://0.0.0.0/token", false},
		{"https://registry.example", "https://[::]/token", false},
		{"https://registry.example", "https://0xa9.0xfe.0xa9.0xfe/token", false},
		{"https://registry.example", "https://2852039166/token", false},
		// A public registry may not point inward.
		{"https://registry.example", "https://127.0.0.1/token", false},
		{"https://registry.example", "https://localhost/token", false},
		{"https://registry.example", "https://auth.localhost/token", false},
		{"https://registry.example", "https://10.0.0.5/token", false},
		{"https://registry.example", "https://192.168.1.2/token", false},
		{"https://registry.example", "https://[fd00::1]/token", false},
		{"https://8.8.8.8", "https://10.0.0.5/token", false},
		// An inside registry may use an inside realm.
		{"https://10.0.0.4:5000", "https://10.0.0.5/token", true},
		{"https://localhost:5000", "https://127.0.0.1:5001/token", true},
		{"https://127.0.0.1:5000", "https://[::1]:5001/token", true},
		{"https://192.168.1.2", "https://auth.example/token", true},
		// The registry's own host, whatever it is.
		{"https://169.254.10.10:5000", "https://169.254.10.10:5001/token", true},
		{"https://Registry.Example", "https://registry.example:8443/token", true},
		// A registry on a link-local address gets no other link-local realm.
		{"https://169.254.10.10", "https://169.254.169.254/token", false},
	}
	for _, tc := range tests {
		reg, _ := url.Parse(tc.registry)
		realm, _ := url.Parse(tc.realm)
		if err := checkRealm(realm, reg); (err == nil) != tc.ok {
			t.Errorf("checkRealm(%s, registry %s) = %v, want ok %v", tc.realm, tc.registry, err, tc.ok)
		}
	}
}

// TestRealmOwnTLS: an insecure registry's skip-verify and client
// certificate stay with the registry; its realm on another host is verified
// with that host's own CA and gets no client certificate.
func TestRealmOwnTLS(t *testing.T) {
	const user, pass = "alice", "realm-tls-secret"
	realmCA, clientCA := newTestCA(t), newTestCA(t)
	var sawClientCert atomic.Bool
	var realmHits atomic.Int32
	realm := startTLSHost(t, "127.0.0.2", &tls.Config{
		Certificates: []tls.Certificate{realmCA.issue(t, "127.0.0.2")},
		ClientAuth:   tls.RequestClientCert,
	}, func(w http.ResponseWriter, r *http.Request) {
		realmHits.Add(1)
		if len(r.TLS.PeerCertificates) > 0 {
			sawClientCert.Store(true)
		}
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"token":"realm-token","expires_in":300}`)
	})
	// The registry's certificate is httptest's own, which nothing trusts:
	// only skip-verify reaches it.
	reg := startTLSHost(t, "127.0.0.1", &tls.Config{ClientAuth: tls.RequestClientCert}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer realm-token" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="stub"`, realm.URL+"/token"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = w.Write(testManifest)
	})
	clientCert := clientCA.issue(t, "")
	tests := map[string]struct {
		realmCAs *x509.CertPool // what certs.d holds for the realm's host
		wantErr  string
	}{
		"realm's own CA":         {realmCAs: realmCA.pool()},
		"no CA for the realm":    {wantErr: "certificate signed by unknown authority"},
		"the registry's CA only": {realmCAs: clientCA.pool(), wantErr: "certificate signed by unknown authority"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			realmHits.Store(0)
			sawClientCert.Store(false)
			var asked []string
			var mu sync.Mutex
			tlsFor := func(host string) (*tls.Config, error) {
				mu.Lock()
				asked = append(asked, host)
				mu.Unlock()
				switch host {
				case reg.Host:
					return &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: clientCA.pool()}, nil
				case realm.Host:
					return &tls.Config{RootCAs: tc.realmCAs}, nil
				}
				return nil, fmt.Errorf("unexpected host %s", host)
			}
			c := New(reg.Host, nil, Options{Insecure: true, TLS: tlsFor, Credentials: Credentials{Username: user, Password: pass}})
			raw, _, err := c.GetManifest(hangGuard(t), "app", "v1")
			if tc.wantErr == "" {
				if err != nil || string(raw) != string(testManifest) {
					t.Fatalf("GetManifest = %q, %v; want the manifest", raw, err)
				}
				if realmHits.Load() != 1 {
					t.Errorf("realm answered %d requests, want 1", realmHits.Load())
				}
			} else {
				var re *RealmError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("GetManifest error = %v, want the realm's certificate refused (%s)", err, tc.wantErr)
				}
				if realmHits.Load() != 0 || strings.Contains(err.Error(), pass) {
					t.Errorf("realm received %d requests (want none), error %q", realmHits.Load(), err)
				}
			}
			if sawClientCert.Load() {
				t.Error("the registry's client certificate was presented to the realm")
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(asked) != fmt.Sprint([]string{reg.Host, realm.Host}) {
				t.Errorf("TLS settings asked for %v, want the registry's then the realm's", asked)
			}
		})
	}
}

// trickle writes one byte of body every few milliseconds until the client
// goes, never completing.
func trickle(w http.ResponseWriter, r *http.Request, every time.Duration) {
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(every):
		}
	}
}

// TestTrickle: answers that send a byte now and then, never stalling
// long enough for the idle timeout, end at the total deadline (small
// answers) or the throughput floor (blobs), and are retried like a cut
// connection.
func TestTrickle(t *testing.T) {
	opts := Options{
		Insecure:     true,
		Retry:        quickRetry,
		IdleTimeout:  time.Minute, // never the idle timeout's doing
		TotalTimeout: 150 * time.Millisecond,
		MinRate:      1 << 20,
		RateWindow:   150 * time.Millisecond,
	}
	t.Run("token service", func(t *testing.T) {
		var realmHits atomic.Int32
		realm := startHost(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
			realmHits.Add(1)
			trickle(w, r, 5*time.Millisecond)
		})
		reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="stub"`, realm.URL+"/token"))
			w.WriteHeader(http.StatusUnauthorized)
		})
		ctx := hangGuard(t)
		_, _, err := New(reg.Host, nil, opts).GetManifest(ctx, "app", "v1")
		var re *RealmError
		if ctx.Err() != nil || !errors.As(err, &re) || !strings.Contains(err.Error(), "not complete after 150ms") {
			t.Fatalf("GetManifest error = %v, want the token answer cut at its deadline", err)
		}
		if got := realmHits.Load(); got != DefaultRetryAttempts {
			t.Errorf("realm saw %d requests, want %d (retried like a cut connection)", got, DefaultRetryAttempts)
		}
	})
	t.Run("manifest", func(t *testing.T) {
		reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			trickle(w, r, 5*time.Millisecond)
		})
		ctx := hangGuard(t)
		_, _, err := New(reg.Host, nil, opts).GetManifest(ctx, "app", "v1")
		if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "not complete after 150ms") {
			t.Fatalf("GetManifest error = %v, want the manifest cut at its deadline", err)
		}
		if got := reg.Hits(http.MethodGet, "/v2/app/manifests/v1"); got != DefaultRetryAttempts {
			t.Errorf("registry saw %d requests, want %d", got, DefaultRetryAttempts)
		}
	})
	t.Run("headers", func(t *testing.T) {
		// A server that holds the headers back is cut by the same deadline.
		reg := startHost(t, "127.0.0.1", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx := hangGuard(t)
		_, _, err := New(reg.Host, nil, opts).GetManifest(ctx, "app", "v1")
		if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "not complete after 150ms") {
			t.Fatalf("GetManifest error = %v, want the request cut at its deadline", err)
		}
	})
	t.Run("blob under the floor", func(t *testing.T) {
		reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			trickle(w, r, 5*time.Millisecond)
		})
		ctx := hangGuard(t)
		body, _, err := New(reg.Host, nil, opts).GetBlob(ctx, "app", digest.FromString("x"))
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		_, err = io.Copy(io.Discard, body)
		if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "under 1024 KiB/s for 150ms") {
			t.Fatalf("reading the blob: %v, want it cut for its throughput", err)
		}
		// Read on like a cut body, then final: a copy does not try again
		// what the reader gave up on.
		if got := reg.Hits(http.MethodGet, "/v2/app/blobs/"+digest.FromString("x").String()); got != DefaultRetryAttempts {
			t.Errorf("registry saw %d blob GETs, want %d", got, DefaultRetryAttempts)
		}
		if _, again := Retryable(err); again {
			t.Errorf("a blob read that spent its attempts is retryable: %v", err)
		}
	})
	t.Run("blob over the floor", func(t *testing.T) {
		// Slower than the small answers' deadline, fast enough for the floor.
		chunk := make([]byte, 64<<10)
		reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(20*len(chunk)))
			for range 20 {
				_, _ = w.Write(chunk)
				w.(http.Flusher).Flush()
				time.Sleep(15 * time.Millisecond)
			}
		})
		body, _, err := New(reg.Host, nil, opts).GetBlob(hangGuard(t), "app", digest.FromBytes(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		if n, err := io.Copy(io.Discard, body); err != nil || n != int64(20*len(chunk)) {
			t.Fatalf("read %d bytes, %v; want the whole blob", n, err)
		}
	})
}

// TestCredentialsLookedUpOnChallenge: credentials that must be looked up
// (a credential helper) are asked for once, when the registry first
// challenges, and never by a registry that lets anonymous requests in.
func TestCredentialsLookedUpOnChallenge(t *testing.T) {
	const user, pass = "alice", "lookup-secret"
	tests := map[string]struct {
		challenge  bool
		lookupErr  error
		wantLookup int32
		wantErr    string
	}{
		"anonymous registry":   {wantLookup: 0},
		"challenging registry": {challenge: true, wantLookup: 1},
		"helper hangs": {challenge: true, lookupErr: errors.New("credential helper docker-credential-x did not answer"),
			wantLookup: 1, wantErr: "credentials for 127.0.0.1:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				if tc.challenge && !basicGuard(w, r, user, pass) {
					return
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				_, _ = w.Write(testManifest)
			})
			var lookups atomic.Int32
			c := New(reg.Host, nil, Options{Insecure: true, LookupCredentials: func() (Credentials, error) {
				lookups.Add(1)
				return Credentials{Username: user, Password: pass}, tc.lookupErr
			}})
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, errs[i] = c.GetManifest(context.Background(), "app", "v1")
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
					t.Errorf("GetManifest error = %v, want %q", err, tc.wantErr)
				}
			}
			if got := lookups.Load(); got != tc.wantLookup {
				t.Errorf("credentials looked up %d times, want %d", got, tc.wantLookup)
			}
			if tc.wantErr != "" {
				if got := len(reg.Log()); got != len(errs) {
					t.Errorf("registry saw %d requests, want %d: a failed lookup fails a request, unretried", got, len(errs))
				}
			}
		})
	}
}

// TestOtherHostsNotDialledLinkLocal: whatever a host's name, the client
// connects to no link-local or unspecified address for a host other than
// the registry (a realm, a redirect). 0.0.0.0 reaches this machine on
// Linux: the stub behind it proves that nothing got through.
func TestOtherHostsNotDialledLinkLocal(t *testing.T) {
	target := startHost(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "metadata")
	})
	_, port, _ := net.SplitHostPort(target.Host)
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://0.0.0.0:"+port+"/latest/meta-data", http.StatusTemporaryRedirect)
	})
	_, _, err := New(reg.Host, nil, Options{Insecure: true}).GetBlob(hangGuard(t), "app", digest.FromString("x"))
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to 0.0.0.0, a link-local or unspecified address") {
		t.Errorf("GetBlob error = %v, want the redirect's address refused", err)
	}
	if n := len(target.Log()); n != 0 {
		t.Errorf("the host behind 0.0.0.0 received %d requests, want none", n)
	}
	for addr, want := range map[string]bool{
		"169.254.169.254:80": true, "[fe80::1]:443": true, "0.0.0.0:5000": true, "[::]:5000": true,
		"127.0.0.1:5000": false, "10.0.0.1:443": false, "93.184.216.34:443": false,
	} {
		if got := refuseLinkLocal("tcp", addr, nil) != nil; got != want {
			t.Errorf("refuseLinkLocal(%s) refuses: %v, want %v", addr, got, want)
		}
	}
}

// TestRegistryCertificatesUnreadable: certificates for the registry that
// cannot be read fail its every request, before anything is sent.
func TestRegistryCertificatesUnreadable(t *testing.T) {
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	bad := errors.New("certificates for the registry: no certificate in ca.crt")
	c := New(reg.Host, nil, Options{Insecure: true, TLS: func(string) (*tls.Config, error) { return nil, bad }})
	if _, _, err := c.GetManifest(hangGuard(t), "app", "v1"); !errors.Is(err, bad) {
		t.Errorf("GetManifest error = %v, want %v", err, bad)
	}
	if n := len(reg.Log()); n != 0 {
		t.Errorf("registry received %d requests, want none", n)
	}
}
