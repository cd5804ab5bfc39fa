package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

var (
	testBlob       = []byte("layer bytes that a CDN serves")
	testBlobDigest = digest.FromBytes(testBlob)
	testManifest   = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
)

// authScheme sets up a registry's auth for a table of tests: guard says
// whether a request may go on (writing the 401 otherwise).
type authScheme struct {
	creds Credentials
	guard func(t *testing.T) func(w http.ResponseWriter, r *http.Request, repo, action string) bool
}

var authSchemes = map[string]authScheme{
	"basic": {
		creds: Credentials{Username: "alice", Password: "s3cret"},
		guard: func(*testing.T) func(http.ResponseWriter, *http.Request, string, string) bool {
			return func(w http.ResponseWriter, r *http.Request, _, _ string) bool {
				return basicGuard(w, r, "alice", "s3cret")
			}
		},
	},
	"bearer": {
		creds: Credentials{Username: "alice", Password: "s3cret"},
		guard: func(t *testing.T) func(http.ResponseWriter, *http.Request, string, string) bool {
			return startTokenService(t, "alice", "s3cret").guard
		},
	},
	"registry token": {
		creds: Credentials{RegistryToken: "opaque-registry-token"},
		guard: func(*testing.T) func(http.ResponseWriter, *http.Request, string, string) bool {
			return func(w http.ResponseWriter, r *http.Request, _, _ string) bool {
				if r.Header.Get("Authorization") == "Bearer opaque-registry-token" {
					return true
				}
				w.WriteHeader(http.StatusUnauthorized)
				return false
			}
		},
	},
}

// TestRedirectedBlobGetsNoCredentials is Docker Hub, ECR and every S3- or
// GCS-backed registry: the blob GET answers with a redirect to a presigned
// URL on another host, which must receive no Authorization (S3 refuses the
// request outright if it does) and whose challenge, if any, goes unanswered.
func TestRedirectedBlobGetsNoCredentials(t *testing.T) {
	cdnModes := map[string]func(w http.ResponseWriter, r *http.Request){
		// S3 refuses a presigned request that also carries Authorization.
		"s3": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>`)
				return
			}
			_, _ = w.Write(testBlob)
		},
		// A CDN that serves whatever comes: only its log shows a leak.
		"cdn": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(testBlob) },
	}
	for schemeName, scheme := range authSchemes {
		for mode, cdnHandler := range cdnModes {
			t.Run(schemeName+"/"+mode, func(t *testing.T) {
				cdn := startHost(t, "127.0.0.2", cdnHandler)
				guard := scheme.guard(t)
				reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
					if !guard(w, r, "app", "pull") {
						return
					}
					w.Header().Set("Location", cdn.URL+"/blobs/"+testBlobDigest.Encoded()+"?sig=abc")
					w.WriteHeader(http.StatusTemporaryRedirect)
				})
				c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull"}}}, Options{Insecure: true, Credentials: scheme.creds})
				b, err := c.ReadBlob(context.Background(), "app", testBlobDigest, 1<<20)
				if err != nil {
					t.Fatalf("ReadBlob: %v", err)
				}
				if !bytes.Equal(b, testBlob) {
					t.Errorf("ReadBlob = %q, want %q", b, testBlob)
				}
				if n := cdn.Authorized(); n != 0 {
					t.Errorf("the CDN received Authorization on %d of %d requests, want none", n, len(cdn.Log()))
				}
				if reg.Authorized() == 0 {
					t.Errorf("the registry received no credentials: the test proves nothing")
				}
			})
		}
	}
}

// TestRedirectRefusal: a host the registry redirected to is neither sent
// credentials nor answered when it challenges, and the error for its
// refusal names it, not the registry.
func TestRedirectRefusal(t *testing.T) {
	tests := map[string]struct {
		cdn  func(w http.ResponseWriter, r *http.Request)
		want []string
	}{
		"expired presigned url": {
			cdn: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired\x1b[2J</Message></Error>")
			},
			want: []string{"AccessDenied: Request has expired\\x1b[2J", "HTTP 403"},
		},
		"challenging cdn": {
			cdn: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					_, _ = w.Write(testBlob) // a client that answered would succeed, leaking
					return
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="cdn"`)
				w.WriteHeader(http.StatusUnauthorized)
			},
			want: []string{"HTTP 401"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cdn := startHost(t, "127.0.0.2", tc.cdn)
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				if !basicGuard(w, r, "alice", "s3cret") {
					return
				}
				http.Redirect(w, r, cdn.URL+"/b?sig=secret-signature", http.StatusTemporaryRedirect)
			})
			c := New(reg.Host, nil, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
			_, err := c.ReadBlob(context.Background(), "app", testBlobDigest, 1<<20)
			if err == nil {
				t.Fatal("ReadBlob succeeded against a CDN that refuses")
			}
			msg := err.Error()
			for _, want := range append(tc.want, cdn.Host+", where "+reg.Host+" redirected the request, refused it") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "secret-signature") || strings.Contains(msg, "\x1b") {
				t.Errorf("error %q quotes the presigned query or a raw escape", msg)
			}
			if n := cdn.Authorized(); n != 0 || len(cdn.Log()) != 1 {
				t.Errorf("the CDN saw %d requests, %d with Authorization; want 1, none", len(cdn.Log()), n)
			}
		})
	}
}

// TestTagsLinkToAnotherHost follows a tags Link to another host without
// taking the registry's credentials there.
func TestTagsLinkToAnotherHost(t *testing.T) {
	other := startHost(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"name":"app","tags":["c","d"]}`)
	})
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if !basicGuard(w, r, "alice", "s3cret") {
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s/v2/app/tags/list?last=b>; rel="next"`, other.URL))
		_, _ = io.WriteString(w, `{"name":"app","tags":["a","b"]}`)
	})
	c := New(reg.Host, nil, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
	tags, err := c.Tags(context.Background(), "app", 0)
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if strings.Join(tags, ",") != "a,b,c,d" {
		t.Errorf("Tags = %v, want a,b,c,d", tags)
	}
	if n := other.Authorized(); n != 0 || len(other.Log()) != 1 {
		t.Errorf("the other host saw %d requests, %d with Authorization; want 1, none", len(other.Log()), n)
	}
}

// TestUploadLocationOnAnotherHost drives UploadBlob where the registry
// hands out an upload Location on another host (a storage front end).
func TestUploadLocationOnAnotherHost(t *testing.T) {
	var mu sync.Mutex
	var stored []byte
	storage := startHost(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodPut || r.URL.Query().Get("digest") != testBlobDigest.String() || r.URL.Query().Get("upload") != "u1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		stored = b
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	ts := startTokenService(t, "alice", "s3cret")
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if !ts.guard(w, r, "app", "push") {
			return
		}
		w.Header().Set("Location", storage.URL+"/upload?upload=u1")
		w.WriteHeader(http.StatusAccepted)
	})
	c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull", "push"}}}, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
	if err := c.UploadBlob(context.Background(), "app", testBlobDigest, int64(len(testBlob)), bytes.NewReader(testBlob)); err != nil {
		t.Fatalf("UploadBlob: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(stored, testBlob) {
		t.Errorf("storage holds %q, want %q", stored, testBlob)
	}
	if n := storage.Authorized(); n != 0 {
		t.Errorf("the storage host received Authorization %d times, want never", n)
	}
}

// TestDiscovery covers registries whose first answer gives no usable
// challenge: the client asks /v2/ once, answers its challenge and sends the
// request again.
func TestDiscovery(t *testing.T) {
	tests := map[string]struct {
		bearer bool
		// refusal is what the registry answers a request without credentials.
		refusal   int
		creds     Credentials
		wantErr   error
		wantPings int
	}{
		"basic challenge only on /v2/":  {refusal: http.StatusUnauthorized, creds: Credentials{Username: "alice", Password: "s3cret"}, wantPings: 1},
		"bearer challenge only on /v2/": {bearer: true, refusal: http.StatusUnauthorized, creds: Credentials{Username: "alice", Password: "s3cret"}, wantPings: 1},
		"hidden until authenticated":    {bearer: true, refusal: http.StatusNotFound, creds: Credentials{Username: "alice", Password: "s3cret"}, wantPings: 1},
		"hidden, basic":                 {refusal: http.StatusNotFound, creds: Credentials{Username: "alice", Password: "s3cret"}, wantPings: 1},
		"hidden, anonymous client":      {bearer: true, refusal: http.StatusNotFound, wantErr: ErrNotFound, wantPings: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ts := startTokenService(t, "alice", "s3cret")
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					if tc.bearer {
						w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="stub"`, ts.URL+"/token"))
					} else {
						w.Header().Set("WWW-Authenticate", `Basic realm="stub"`)
					}
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				var ok bool
				if tc.bearer {
					token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
					ts.mu.Lock()
					ok = covers(ts.granted[token], []Scope{{Repository: "app", Actions: []string{"pull"}}})
					ts.mu.Unlock()
				} else {
					u, p, _ := r.BasicAuth()
					ok = u == "alice" && p == "s3cret"
				}
				if !ok {
					w.WriteHeader(tc.refusal) // and no WWW-Authenticate
					return
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				_, _ = w.Write(testManifest)
			})
			c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull"}}}, Options{Insecure: true, Credentials: tc.creds})
			for i := 0; i < 2; i++ { // the second request finds everything settled
				raw, _, err := c.GetManifest(context.Background(), "app", "v1")
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("GetManifest error = %v, want %v", err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("GetManifest: %v", err)
				}
				if !bytes.Equal(raw, testManifest) {
					t.Errorf("GetManifest = %q", raw)
				}
			}
			if n := reg.Hits(http.MethodGet, "/v2/"); n != tc.wantPings {
				t.Errorf("%d requests to /v2/, want %d", n, tc.wantPings)
			}
			if tc.wantErr == nil {
				if n := reg.Hits(http.MethodGet, "/v2/app/manifests/v1"); n != 3 {
					t.Errorf("%d manifest requests, want 3 (refused, sent again, then straight)", n)
				}
			}
		})
	}
}

// TestNoPingWhenNotNeeded: a registry that answers 404 for real, with
// credentials configured, costs one /v2/ request for the whole client; an
// anonymous-friendly registry without credentials none.
func TestNoPingWhenNotNeeded(t *testing.T) {
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})
	for _, creds := range []Credentials{{}, {Username: "alice", Password: "s3cret"}} {
		c := New(reg.Host, nil, Options{Insecure: true, Credentials: creds})
		for i := 0; i < 3; i++ {
			if _, err := c.HeadManifest(context.Background(), "app", "v1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("HeadManifest error = %v, want not found", err)
			}
		}
	}
	if n := reg.Hits(http.MethodGet, "/v2/"); n != 1 {
		t.Errorf("%d requests to /v2/, want 1 (for the client with credentials, once)", n)
	}
	if n := reg.Authorized(); n != 0 {
		t.Errorf("credentials sent %d times to a registry that never asked", n)
	}
}

// TestRealmUnreachable: a token realm that cannot be reached is named as
// such, not blamed on the registry, and no response leaks alongside the
// error (net/http logs "RoundTripper returned a response & error").
func TestRealmUnreachable(t *testing.T) {
	tests := map[string]func(t *testing.T) string{
		"closed port": func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			return "http://" + l.Addr().String()
		},
		"speaks no TLS": func(t *testing.T) string {
			return "https://" + startHost(t, "127.0.0.2", func(http.ResponseWriter, *http.Request) {}).Host
		},
	}
	for name, realm := range tests {
		t.Run(name, func(t *testing.T) {
			base := realm(t)
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/auth/token?account=x",service="stub"`, base))
				w.WriteHeader(http.StatusUnauthorized)
			})
			var logged bytes.Buffer
			log.SetOutput(&logged)
			defer log.SetOutput(os.Stderr)
			c := New(reg.Host, nil, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
			_, _, err := c.GetManifest(context.Background(), "app", "v1")
			var re *RealmError
			if !errors.As(err, &re) {
				t.Fatalf("GetManifest error = %v, want a RealmError", err)
			}
			want := fmt.Sprintf("token service %s/auth/token for registry %s is not reachable: ", base, reg.Host)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want it to begin %q", err, want)
			}
			if strings.Contains(err.Error(), "account=x") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q quotes the realm's query or the password", err)
			}
			if logged.Len() > 0 {
				t.Errorf("net/http logged %q", logged.String())
			}
		})
	}
}

// TestScopeAddedToLiveClient is push --spec with sources and target on one
// host: the client exists before the push scope is declared.
func TestScopeAddedToLiveClient(t *testing.T) {
	ts := startTokenService(t, "alice", "s3cret")
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
		action := "pull"
		if r.Method == http.MethodPut {
			action = "push"
		}
		if !ts.guard(w, r, repo, action) {
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = w.Write(testManifest)
	})
	sess := NewSession(func(string) (Options, error) {
		return Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}}, nil
	})
	sess.Want(reg.Host, "src", "pull")
	c, err := sess.Client(context.Background(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetManifest(context.Background(), "src", "v1"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	sess.Want(reg.Host, "team/app", "pull", "push")
	if _, err := c.PutManifest(context.Background(), "team/app", "v1", testManifest, "application/vnd.oci.image.manifest.v1+json"); err != nil {
		t.Fatalf("PutManifest after Want: %v", err)
	}
	asked := ts.requestsAsked()
	if len(asked) != 2 || strings.Join(asked[1], " ") != "repository:src:pull repository:team/app:pull,push" {
		t.Errorf("token requests asked %q, want two, the second for src:pull and team/app:pull,push", asked)
	}
	if n := reg.Hits(http.MethodPut, "/v2/team/app/manifests/v1"); n != 1 {
		t.Errorf("%d PUTs, want 1: the token is fetched before the request, not after a refusal", n)
	}
}

// TestInsufficientScopeWithOlderToken: a request that went out with the
// token of the moment is refused for want of a scope that was added while
// it was in flight; another request fetched a token covering it meanwhile.
// The refused request is sent again with the current token, not failed.
func TestInsufficientScopeWithOlderToken(t *testing.T) {
	ts := startTokenService(t, "alice", "s3cret")
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Header.Get("Authorization"), "token-1") {
			// The first PUT is held until the scope changed elsewhere.
			once.Do(func() { close(arrived) })
			<-release
		}
		action := map[string]string{http.MethodPut: "push"}[r.Method]
		if action == "" {
			action = "pull"
		}
		if !ts.guard(w, r, "app", action) {
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
			return
		}
		_, _ = w.Write(testManifest)
	})
	c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull"}}}, Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
	ctx := context.Background()
	if _, _, err := c.GetManifest(ctx, "app", "v1"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	putErr := make(chan error, 1)
	go func() {
		_, err := c.PutManifest(ctx, "app", "v2", testManifest, "application/vnd.oci.image.manifest.v1+json")
		putErr <- err
	}()
	<-arrived
	c.Want("app", "push")
	if _, _, err := c.GetManifest(ctx, "app", "v1"); err != nil { // fetches token-2, with push
		t.Fatalf("GetManifest after Want: %v", err)
	}
	close(release)
	if err := <-putErr; err != nil {
		t.Fatalf("PutManifest sent with the older token: %v", err)
	}
	if n := len(ts.requestsAsked()); n != 2 {
		t.Errorf("%d token requests, want 2: the refused PUT reuses the current token", n)
	}
}

// TestNoDeleteScope: a declined mount's upload cancel is refused for want
// of delete; the client gives the cancel up rather than ask a token for an
// action the command did not declare (Quay refuses any such token).
func TestNoDeleteScope(t *testing.T) {
	ts := startTokenService(t, "alice", "s3cret")
	ts.refuse = func(scope string) bool { return strings.Contains(scope, "delete") }
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			if !ts.guard(w, r, "app", "push") {
				return
			}
			w.Header().Set("Location", "/v2/app/blobs/uploads/u1")
			w.WriteHeader(http.StatusAccepted) // the mount is declined
		case r.Method == http.MethodDelete:
			ts.guard(w, r, "app", "delete")
		default:
			if !ts.guard(w, r, "app", "pull") {
				return
			}
			_, _ = w.Write(testManifest)
		}
	})
	c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull", "push"}}, {Repository: "src", Actions: []string{"pull"}}},
		Options{Insecure: true, Credentials: Credentials{Username: "alice", Password: "s3cret"}})
	ctx := context.Background()
	mounted, up, err := c.MountBlob(ctx, "app", "src", testBlobDigest)
	if err != nil || mounted || up == nil {
		t.Fatalf("MountBlob = %v, %v, %v; want declined with its upload session", mounted, up, err)
	}
	up.Cancel(ctx) // the blob is not wanted after all
	if n := reg.Hits(http.MethodDelete, "/v2/app/blobs/uploads/u1"); n != 1 {
		t.Errorf("%d upload cancels sent, want 1 (then given up)", n)
	}
	// A later scope change forces a new token request: it must not carry delete either.
	c.Want("other", "pull")
	if _, _, err := c.GetManifest(ctx, "app", "v1"); err != nil {
		t.Fatalf("GetManifest after the declined mount: %v", err)
	}
	asked := ts.requestsAsked()
	if len(asked) < 2 {
		t.Errorf("%d token requests, want 2 or more", len(asked))
	}
	for _, scopes := range asked {
		for _, s := range scopes {
			if strings.Contains(s, "delete") {
				t.Errorf("a token request asked for %q", s)
			}
		}
	}
}

// TestDiscoveryConcurrent: an anonymous client sends its first requests
// at once; against a registry that challenges only on /v2/ (anonymous
// tokens, as gcr.io for public images), one /v2/ request serves them all.
func TestDiscoveryConcurrent(t *testing.T) {
	ts := startTokenService(t, "", "")
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="stub"`, ts.URL+"/token"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := covers(ts.granted[token], []Scope{{Repository: "app", Actions: []string{"pull"}}})
		ts.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(testManifest)
	})
	c := New(reg.Host, []Scope{{Repository: "app", Actions: []string{"pull"}}}, Options{Insecure: true})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := c.GetManifest(context.Background(), "app", fmt.Sprintf("v%d", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("GetManifest: %v", err)
		}
	}
	if n := reg.Hits(http.MethodGet, "/v2/"); n != 1 {
		t.Errorf("%d requests to /v2/, want 1", n)
	}
	if n := len(ts.requestsAsked()); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// TestAbsentIsAnswerNoPing: probes whose 404 is an answer (the destination
// tag, the repository probe) cost no /v2/ request where credentials may
// exist but were not looked up (a credsStore the Docker CLI picks for every
// host), while a read whose 404 may hide a repository still asks.
func TestAbsentIsAnswerNoPing(t *testing.T) {
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
	})
	lookup := func() (Credentials, error) { return Credentials{}, nil }
	c := New(reg.Host, nil, Options{Insecure: true, LookupCredentials: lookup})
	ctx := AbsentIsAnswer(context.Background())
	if _, err := c.HeadManifest(ctx, "app", "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("HeadManifest error = %v, want not found", err)
	}
	if !c.RepositoryIsNew(context.Background(), "app") {
		t.Error("RepositoryIsNew = false, want true")
	}
	if n := reg.Hits(http.MethodGet, "/v2/"); n != 0 {
		t.Errorf("%d requests to /v2/ for probes, want 0", n)
	}
	if _, err := c.HeadManifest(context.Background(), "app", "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("HeadManifest error = %v, want not found", err)
	}
	if n := reg.Hits(http.MethodGet, "/v2/"); n != 1 {
		t.Errorf("%d requests to /v2/ after a read's 404, want 1", n)
	}
}
