package e2e

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// blobGetRE is a blob GET: /v2/<repo>/blobs/<digest>, not an upload.
var blobGetRE = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)

// blobHost serves a registry's blobs on 127.0.0.2, as S3 or a CDN serves
// the presigned URLs a registry redirects blob GETs to, and records the
// Authorization header of every request.
type blobHost struct {
	URL string

	mu   sync.Mutex
	seen []string // "GET path auth=<header>" of each request
	auth int      // requests that carried Authorization
}

func startBlobHost(t *testing.T, reg *harness.Registry) *blobHost {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (another loopback host): %v", err)
	}
	h := &blobHost{URL: "http://" + l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "" {
			h.auth++
		}
		h.mu.Unlock()
		m := blobGetRE.FindStringSubmatch(r.URL.Path)
		if m == nil || r.URL.Query().Get("sig") != "presigned" {
			http.Error(w, "not a presigned blob URL", http.StatusForbidden)
			return
		}
		data, err := reg.Client().GetBlob(m[1], m[2])
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(data)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

func (h *blobHost) requests() ([]string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...), h.auth
}

// TestCopyRedirectedBlobs: a real docker-registry with htpasswd auth whose
// blob GETs, once authorised, are redirected to another host (127.0.0.2),
// as S3- and CDN-backed registries do. The copy succeeds with the source's
// digests, and no Authorization reaches the other host.
func TestCopyRedirectedBlobs(t *testing.T) {
	src, dst := authRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	blobs := startBlobHost(t, src)

	// In front of the registry: a blob GET the registry would answer with
	// the blob (checked with a HEAD carrying the same credentials) is
	// answered with a redirect instead; the rest, 401 challenges included,
	// is the registry's own answer.
	check := &http.Client{}
	p, err := proxy.Start(src.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !blobGetRE.MatchString(r.URL.Path) || r.Header.Get("Authorization") == "" {
			return false
		}
		head, err := http.NewRequest(http.MethodHead, src.URL+r.URL.Path, nil)
		if err != nil {
			return false
		}
		head.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := check.Do(head)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		http.Redirect(w, r, blobs.URL+r.URL.Path+"?sig=presigned", http.StatusTemporaryRedirect)
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })

	e := newEnv(t)
	e.login(t, p.Host, testUser, testPassword)
	if d := mustCopy(t, e, p.Host+"/"+srcRepo+":v1", dst.Ref(dstRepo+":v1")); d != list.Digest {
		t.Errorf("copy printed %s, want the source's %s", d, list.Digest)
	}
	m, ix := dst.MustGetIndex(t, dstRepo, "v1")
	if m.Digest != list.Digest || string(m.Raw) != string(list.Raw) {
		t.Errorf("destination holds %s, want the source's %s byte for byte", m.Digest, list.Digest)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)

	redirected := p.Requests().Filter(func(r harness.Request) bool { return r.Status == http.StatusTemporaryRedirect })
	seen, authorized := blobs.requests()
	// 2 images x (config + 2 layers), each fetched from the other host.
	if len(redirected) != 6 || len(seen) != len(redirected) {
		t.Errorf("%d blob GETs redirected and %d requests at the other host, want 6 of each:\n%s\n%s", len(redirected), len(seen), p.Requests(), strings.Join(seen, "\n"))
	}
	if authorized != 0 {
		t.Errorf("%d of %d requests to the other host carried Authorization", authorized, len(seen))
	}
}
