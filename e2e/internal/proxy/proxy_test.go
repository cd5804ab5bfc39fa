package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// startBehind starts a registry holding one blob and a proxy in front of it.
func startBehind(t *testing.T, f Faults) (*Proxy, string, []byte) {
	t.Helper()
	if _, err := exec.LookPath(harness.RegistryBinary); err != nil {
		// `make setup` installs it: missing, the set-up failed.
		t.Fatalf("%s not installed (run `make setup`)", harness.RegistryBinary)
	}
	reg := harness.StartRegistry(t, harness.RegistryOptions{})
	blob := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	d, err := reg.Client().PushBlob("proxy/test", blob)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(reg.URL, Options{Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, d, blob
}

func get(t *testing.T, url string, h http.Header) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// TestStatusDraws: one seed makes the same decisions again after Reset,
// another seed others; the rate is about right; 429s carry Retry-After.
func TestStatusDraws(t *testing.T) {
	p, d, _ := startBehind(t, Faults{Seed: 7, StatusRate: 0.3})
	paths := []string{"/v2/", "/v2/proxy/test/blobs/" + d, "/v2/proxy/test/manifests/v1", "/v2/proxy/test/tags/list"}
	round := func() []Injection {
		p.Reset()
		for i := 0; i < 50; i++ {
			for _, path := range paths {
				req, _ := http.NewRequest(http.MethodHead, "http://"+p.Host+path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
			}
		}
		return p.Injected()
	}
	a, b := round(), round()
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 drew differently after Reset:\n%v\n%v", a, b)
	}
	if n := len(a); n < 30 || n > 90 {
		t.Errorf("%d of 200 requests answered with a fault at rate 0.3", n)
	}
	statuses := map[int]bool{}
	for _, i := range a {
		statuses[i.Status] = true
	}
	for _, s := range DefaultStatuses {
		if !statuses[s] {
			t.Errorf("status %d never drawn: %v", s, statuses)
		}
	}
	p.SetFaults(Faults{Seed: 8, StatusRate: 0.3})
	if c := round(); slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 drew alike")
	}
}

// TestCut: a cut blob body ends early, with fewer bytes than announced.
func TestCut(t *testing.T) {
	p, d, blob := startBehind(t, Faults{CutRate: 1})
	status, body, err := get(t, "http://"+p.Host+"/v2/proxy/test/blobs/"+d, nil)
	if status != http.StatusOK || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) >= len(blob) || len(body) == 0 {
		t.Errorf("status %d, %d of %d bytes, error %v; want a body cut part-way", status, len(body), len(blob), err)
	}
	if !bytes.Equal(body, blob[:len(body)]) {
		t.Errorf("the bytes before the cut differ")
	}
	if in := p.Injected(); len(in) != 1 || in[0].Kind != KindCut || in[0].Bytes != int64(len(body)) {
		t.Errorf("injection log %v, want one cut after %d bytes", in, len(body))
	}
}

// TestCorrupt: a corrupt blob keeps its length, differs in one byte, and
// Range reads see the same byte flipped.
func TestCorrupt(t *testing.T) {
	p, d, blob := startBehind(t, Faults{Corrupt: []string{"sha256:0000"}})
	url := "http://" + p.Host + "/v2/proxy/test/blobs/" + d
	if _, body, err := get(t, url, nil); err != nil || !bytes.Equal(body, blob) {
		t.Fatalf("a blob not listed came corrupted (%v)", err)
	}
	p.SetFaults(Faults{Corrupt: []string{d}})
	_, body, err := get(t, url, nil)
	if err != nil || len(body) != len(blob) {
		t.Fatalf("%d bytes (%v), want %d", len(body), err, len(blob))
	}
	diff := 0
	for i := range body {
		if body[i] != blob[i] {
			diff++
		}
	}
	if diff != 1 {
		t.Errorf("%d bytes differ, want 1", diff)
	}
	half := len(blob) / 2
	var joined []byte
	for _, rng := range []string{fmt.Sprintf("bytes=0-%d", half-1), fmt.Sprintf("bytes=%d-", half)} {
		status, part, err := get(t, url, http.Header{"Range": {rng}})
		if err != nil || status != http.StatusPartialContent {
			t.Fatalf("Range %s: %d %v", rng, status, err)
		}
		joined = append(joined, part...)
	}
	if !bytes.Equal(joined, body) {
		t.Errorf("Range reads do not join into the corrupt blob")
	}
}

// TestFailAll: every request gets the status, and nothing reaches the
// registry.
func TestFailAll(t *testing.T) {
	p, d, _ := startBehind(t, Faults{FailAll: http.StatusServiceUnavailable})
	for _, path := range []string{"/v2/", "/v2/proxy/test/blobs/" + d} {
		if status, _, _ := get(t, "http://"+p.Host+path, nil); status != http.StatusServiceUnavailable {
			t.Errorf("GET %s: %d, want 503", path, status)
		}
	}
	if n := len(p.Injected()); n != 2 {
		t.Errorf("%d injections logged, want 2", n)
	}
}

// TestRequestKey: what the draws depend on leaves out repositories,
// digests, upload sessions and the registry's upload state.
func TestRequestKey(t *testing.T) {
	for name, tc := range map[string]struct{ method, url, want string }{
		"tag":    {"HEAD", "/v2/a/b/manifests/v1", "HEAD /v2/*/manifests/v1?"},
		"digest": {"GET", "/v2/a/manifests/sha256:" + hex64, "GET /v2/*/manifests/*?"},
		"blob":   {"GET", "/v2/x/y/z/blobs/sha256:" + hex64, "GET /v2/*/blobs/*?"},
		"upload": {"PUT", "/v2/a/blobs/uploads/1b2c-3d?_state=xyz&digest=sha256%3A" + hex64, "PUT /v2/*/blobs/uploads/*?digest=%2A"},
		"mount":  {"POST", "/v2/a/blobs/uploads/?mount=sha256%3A" + hex64 + "&from=other%2Frepo", "POST /v2/*/blobs/uploads/?from=%2A&mount=%2A"},
		"ping":   {"GET", "/v2/", "GET /v2/?"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := http.NewRequest(tc.method, "http://127.0.0.1"+tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := requestKey(r); got != tc.want {
				t.Errorf("requestKey = %q, want %q", got, tc.want)
			}
		})
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestFirstTry: FailFirst fails each distinct request once; CutFirst cuts
// each blob's first body once, Range reads included.
func TestFirstTry(t *testing.T) {
	p, d, blob := startBehind(t, Faults{FailFirst: http.StatusBadGateway})
	url := "http://" + p.Host + "/v2/proxy/test/blobs/" + d
	for i, want := range []int{http.StatusBadGateway, http.StatusOK, http.StatusOK} {
		if status, _, _ := get(t, url, nil); status != want {
			t.Errorf("GET %d: %d, want %d", i+1, status, want)
		}
	}
	if status, _, _ := get(t, "http://"+p.Host+"/v2/", nil); status != http.StatusBadGateway {
		t.Errorf("first GET /v2/: %d, want 502", status)
	}

	p.SetFaults(Faults{CutFirst: true})
	p.Reset()
	_, body, err := get(t, url, http.Header{"Range": {"bytes=10-"}})
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) >= len(blob)-10 {
		t.Errorf("first Range GET: %d bytes, %v; want a cut body", len(body), err)
	}
	if err := p.WaitIdle(10 * time.Second); err != nil { // logged before the next begins
		t.Fatal(err)
	}
	if _, body, err := get(t, url, nil); err != nil || !bytes.Equal(body, blob) {
		t.Errorf("second GET: %d bytes, %v; want the whole blob", len(body), err)
	}
	if err := p.WaitIdle(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if log := p.Log(); len(log) != 2 || log[0].Range != "bytes=10-" || log[1].Range != "" {
		t.Errorf("log %+v, want the Range header of the first GET only", log)
	}
}
