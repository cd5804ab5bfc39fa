package copy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// layer returns n bytes of distinct content.
func layer(seed string, n int) []byte {
	return bytes.Repeat([]byte(seed), n/len(seed)+1)[:n]
}

// twoPlatformList pushes a two-image index tagged v1 into src/app.
func twoPlatformList(src *stubRegistry) ([]testImage, []byte) {
	imgs := []testImage{
		src.pushImage("app", "amd64", layer("a", 3000), layer("b", 5000)),
		src.pushImage("app", "arm64", layer("c", 4000)),
	}
	return imgs, src.pushIndex("app", "v1", imgs, nil)
}

// assertComplete checks that dst holds the list under v1 and every blob of
// every image with the source's bytes.
func assertComplete(t *testing.T, src, dst *stubRegistry, imgs []testImage, raw []byte) {
	t.Helper()
	m, ok := dst.manifest("app", "v1")
	if !ok || !bytes.Equal(m.raw, raw) {
		t.Fatalf("destination v1 missing or different")
	}
	for _, img := range imgs {
		for _, d := range append([]digest.Digest{img.config}, img.layers...) {
			want, _ := src.blob("app", d)
			if got, ok := dst.blob("app", d); !ok || !bytes.Equal(got, want) {
				t.Errorf("destination blob %s missing or different", d)
			}
		}
	}
}

func TestCopyCorruptSourceBlob(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	imgs, _ := twoPlatformList(src)
	bad := imgs[1].layers[0]
	// Same size, wrong bytes: only a hash can tell.
	src.PutBlobAs("app", bad.String(), layer("x", 4000))

	_, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil)
	var corrupt *CorruptError
	if !errors.As(err, &corrupt) || corrupt.Digest != bad || !strings.Contains(err.Error(), src.host()+"/app") {
		t.Fatalf("Copy error = %v, want a corrupt-blob error naming %s and the source", err, bad)
	}
	if _, ok := dst.manifest("app", "v1"); ok {
		t.Error("destination was tagged v1 although a blob was corrupt")
	}
	if _, ok := dst.blob("app", bad); ok {
		t.Error("destination stored the corrupt blob")
	}
	// Not retried: one read of the bad blob.
	if n := len(src.requestsMatching(http.MethodGet, "/blobs/"+bad.String())); n != 1 {
		t.Errorf("corrupt blob read %d times, want 1 (never retried)", n)
	}
	// Its upload session was cancelled.
	if n := len(dst.requestsMatching(http.MethodDelete, "/blobs/uploads/")); n < 1 {
		t.Error("the abandoned upload session was not cancelled")
	}
}

func TestCopyManifestSizeDisagrees(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	imgs := []testImage{src.pushImage("app", "amd64", layer("a", 100)), src.pushImage("app", "arm64", layer("b", 100))}
	src.pushIndex("app", "v1", imgs, func(i int, n int64) int64 {
		if i == 1 {
			return 5
		}
		return n
	})
	_, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil)
	var corrupt *CorruptError
	if !errors.As(err, &corrupt) || corrupt.Digest != imgs[1].digest || corrupt.Size != 5 || corrupt.GotSize != int64(len(imgs[1].raw)) {
		t.Fatalf("Copy error = %v, want a size mismatch naming %s", err, imgs[1].digest)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%d bytes where the descriptor says 5", len(imgs[1].raw))) {
		t.Errorf("error %q does not give both sizes", err)
	}
	if _, ok := dst.manifest("app", "v1"); ok {
		t.Error("destination was tagged v1")
	}

	// The same entry already at the destination: its HEAD size is checked.
	dst.putManifest("app", imgs[1].digest.String(), "application/vnd.oci.image.manifest.v1+json", imgs[1].raw)
	dst.putManifest("app", "other", "application/vnd.oci.image.manifest.v1+json", imgs[1].raw)
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil); !errors.As(err, &corrupt) {
		t.Fatalf("Copy onto a destination holding the entry: error = %v, want a size mismatch", err)
	}
}

// cutOnce answers the first GET of blob d with only part of it, then drops
// the connection.
func cutOnce(s *stubRegistry, d digest.Digest, after int) func(http.ResponseWriter, *http.Request) bool {
	var done atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) || done.Swap(true) {
			return false
		}
		b, _ := s.blob("app", d)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b[:after])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
}

func TestCopyResumesCutBlob(t *testing.T) {
	for name, noRange := range map[string]bool{"with Range": false, "source ignores Range": true} {
		t.Run(name, func(t *testing.T) {
			src, dst := newStubRegistryWith(t, registrystub.Options{NoRange: noRange}), newStubRegistry(t)
			imgs, raw := twoPlatformList(src)
			cut := imgs[0].layers[1]
			src.SetHook(cutOnce(src, cut, 1234))
			if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil); err != nil {
				t.Fatal(err)
			}
			assertComplete(t, src, dst, imgs, raw)
			gets := src.requestsMatching(http.MethodGet, "/blobs/"+cut.String())
			if len(gets) != 2 || gets[1].Range != "bytes=1234-" {
				t.Errorf("reads of the cut blob = %+v, want a second one with Range bytes=1234-", gets)
			}
			// One upload of it: the resume happened under the same PUT.
			if puts := dst.requestsMatching(http.MethodPut, "/blobs/uploads/"); len(puts) != 5 {
				t.Errorf("%d blob PUTs, want 5 (one per blob)", len(puts))
			}
		})
	}
}

// TestCopyResumesCutBlobIntoLayout: a local destination reads through the
// same blob body as a registry does, so a body cut part-way is read on
// with Range there too.
func TestCopyResumesCutBlobIntoLayout(t *testing.T) {
	src := newStubRegistry(t)
	imgs, _ := twoPlatformList(src)
	cut := imgs[0].layers[1]
	src.SetHook(cutOnce(src, cut, 1234))
	dir := filepath.Join(t.TempDir(), "layout")
	ep := src.endpoint("app")
	if _, err := CopySides(context.Background(), Side{Endpoint: &ep, Ref: "v1"}, localSide(t, "oci:"+dir+":v1"), Options{SystemContext: localSys(t)}, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := src.blob("app", cut)
	if got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", cut.Encoded())); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("layout blob %s: %v, bytes equal %v", cut, err, bytes.Equal(got, want))
	}
	gets := src.requestsMatching(http.MethodGet, "/blobs/"+cut.String())
	if len(gets) != 2 || gets[1].Range != "bytes=1234-" {
		t.Errorf("reads of the cut blob = %+v, want a second one with Range bytes=1234-", gets)
	}
}

func TestCopyRestartsFailedUpload(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	imgs, raw := twoPlatformList(src)
	var failed sync.Map
	var failedLocation atomic.Value
	dst.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
			return false
		}
		d := r.URL.Query().Get("digest")
		if d != imgs[0].layers[0].String() {
			return false
		}
		if _, again := failed.LoadOrStore(d, true); again {
			return false
		}
		failedLocation.Store(r.URL.Path)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, src, dst, imgs, raw)
	var puts []string
	for _, p := range dst.requestsMatching(http.MethodPut, "/blobs/uploads/") {
		if strings.Contains(p.Query, imgs[0].layers[0].Encoded()) {
			puts = append(puts, p.Path)
		}
	}
	if len(puts) != 2 || puts[0] == puts[1] {
		t.Errorf("uploads of the blob = %v, want two on different sessions", puts)
	}
	deletes := dst.requestsMatching(http.MethodDelete, "/blobs/uploads/")
	if len(deletes) != 1 || deletes[0].Path != failedLocation.Load() {
		t.Errorf("DELETEs %+v, want one of the abandoned session %v", deletes, failedLocation.Load())
	}
}

func TestCopyGivesUpWithinBudget(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	twoPlatformList(src)
	dst.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	_, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d attempts failed", registry.DefaultRetryAttempts)) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Copy error = %v, want the budget exhausted with the last status", err)
	}
	if _, ok := dst.manifest("app", "v1"); ok {
		t.Error("destination tagged")
	}
	// Every session an upload failed on was cancelled. (A session whose
	// opening answer the cancelled copy never read cannot be.)
	cancelled := map[string]bool{}
	for _, d := range dst.requestsMatching(http.MethodDelete, "/blobs/uploads/") {
		cancelled[d.Path] = true
	}
	puts := dst.requestsMatching(http.MethodPut, "/blobs/uploads/")
	for _, p := range puts {
		if !cancelled[p.Path] {
			t.Errorf("session %s failed and was not cancelled", p.Path)
		}
	}
	if len(puts) < registry.DefaultRetryAttempts {
		t.Errorf("%d uploads tried, want at least %d", len(puts), registry.DefaultRetryAttempts)
	}
}

func TestCopyMountRefusedFallsBackToStreaming(t *testing.T) {
	reg := newStubRegistry(t)
	imgs, raw := twoPlatformList(reg)
	reg.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Query().Get("from") == "app" {
			writeError(w, http.StatusForbidden, "DENIED")
			return true
		}
		return false
	})
	var mu sync.Mutex
	var logged []string
	dstClient := reg.client(func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	})
	_, err := Copy(context.Background(), reg.endpoint("app"), "v1", Endpoint{Client: dstClient, Repository: "mirror"}, "v1", Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := reg.manifest("mirror", "v1")
	if !ok || !bytes.Equal(m.raw, raw) {
		t.Fatal("mirror:v1 missing")
	}
	for _, img := range imgs {
		for _, d := range img.layers {
			if _, ok := reg.blob("mirror", d); !ok {
				t.Errorf("blob %s not streamed into mirror", d)
			}
		}
	}
	joined := strings.Join(logged, "\n")
	if !strings.Contains(joined, "mount from app into mirror: "+reg.host()+"/mirror@"+imgs[0].layers[0].String()) || !strings.Contains(joined, "streaming "+imgs[0].layers[0].String()+" through the source's credentials") {
		t.Errorf("debug log does not explain the fallback:\n%s", joined)
	}
}

func TestCopyDeclinedMountUsesItsSession(t *testing.T) {
	reg := newStubRegistry(t)
	imgs, _ := twoPlatformList(reg)
	reg.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Query().Get("from") == "app" {
			r.URL.RawQuery = "" // declined: a plain upload session
		}
		return false
	})
	if _, err := Copy(context.Background(), reg.endpoint("app"), "v1", reg.endpoint("mirror"), "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	blobs := 2 + len(imgs[0].layers) + len(imgs[1].layers)
	if posts := reg.requestsMatching(http.MethodPost, "/mirror/blobs/uploads/"); len(posts) != blobs {
		t.Errorf("%d POSTs for %d blobs: the declined mount's session was not used", len(posts), blobs)
	}
	if dels := reg.requestsMatching(http.MethodDelete, "/blobs/uploads/"); len(dels) != 0 {
		t.Errorf("%d sessions cancelled, want none", len(dels))
	}
}

// TestCopyAgainAfterInterrupt: a destination repository holding the blobs
// of an interrupted copy but no tag is "new" to the tags API; its blobs are
// not uploaded again.
func TestCopyAgainAfterInterrupt(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	imgs, raw := twoPlatformList(src)
	for _, d := range append([]digest.Digest{imgs[0].config}, imgs[0].layers...) {
		b, _ := src.blob("app", d)
		dst.putBlob("app", b)
	}
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, src, dst, imgs, raw)
	// Only the second image's config and layer travel.
	if puts := dst.requestsMatching(http.MethodPut, "/blobs/uploads/"); len(puts) != 2 {
		t.Errorf("%d blobs uploaded, want 2 (the missing ones)", len(puts))
	}
	if heads := dst.requestsMatching(http.MethodHead, "/blobs/"); len(heads) != 0 {
		t.Errorf("%d blob HEADs, want none", len(heads))
	}
}

func TestCopyIntoChunkOnlyRegistry(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistryWith(t, registrystub.Options{ChunkMin: 1000})
	imgs, raw := twoPlatformList(src)
	// Chunks below the registry's minimum: the minimum wins.
	to := Endpoint{Client: registry.New(dst.host(), nil, registry.Options{Insecure: true, Retry: quickRetry, ChunkSize: 100}), Repository: "app"}
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", to, "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, src, dst, imgs, raw)
	// Per session, every PATCH but the last carries at least the minimum.
	bySession := map[string][]int{}
	for _, p := range dst.requestsMatching(http.MethodPatch, "/blobs/uploads/") {
		bySession[p.Path] = append(bySession[p.Path], p.BodyLen)
	}
	if len(bySession) < 4 {
		t.Fatalf("%d chunked sessions, want one per blob but the first refused", len(bySession))
	}
	most := 0
	for path, sizes := range bySession {
		most = max(most, len(sizes))
		for _, n := range sizes[:len(sizes)-1] {
			if n < 1000 {
				t.Errorf("session %s: chunk of %d bytes below OCI-Chunk-Min-Length 1000 (%v)", path, n, sizes)
			}
		}
	}
	if most != 5 {
		t.Errorf("the 5000-byte layer went in %d chunks, want 5 of the minimum length", most)
	}
}

// faulty returns a hook that answers about one request in ten with
// 429/500/502/503 and cuts about one blob body in twenty half-way, from a
// fixed seed.
func faulty(s *stubRegistry, seed int64, faults, cuts *atomic.Int32) func(http.ResponseWriter, *http.Request) bool {
	var mu sync.Mutex
	rng := rand.New(rand.NewSource(seed))
	statuses := []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
	return func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		fail, cut, status := rng.Intn(10) == 0, rng.Intn(20) == 0, statuses[rng.Intn(len(statuses))]
		mu.Unlock()
		if fail {
			faults.Add(1)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			return true
		}
		if cut && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			repo, ref, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/")
			b, ok := s.blob(repo, digest.Digest(ref))
			if !ok {
				return false
			}
			cuts.Add(1)
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		}
		return false
	}
}

func TestCopyThroughFaults(t *testing.T) {
	var faults, cuts atomic.Int32
	defer func() {
		if faults.Load() == 0 || cuts.Load() == 0 {
			t.Errorf("%d faults and %d cuts injected: the test tested nothing", faults.Load(), cuts.Load())
		}
		t.Logf("%d faults and %d cuts injected", faults.Load(), cuts.Load())
	}()
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			src, dst := newStubRegistry(t), newStubRegistry(t)
			var imgs []testImage
			for i := range 4 {
				imgs = append(imgs, src.pushImage("app", fmt.Sprint("arch", i), layer(fmt.Sprint("a", i), 3000+i), layer(fmt.Sprint("b", i), 7000+i)))
			}
			raw := src.pushIndex("app", "v1", imgs, nil)
			src.SetHook(faulty(src, seed, &faults, &cuts))
			dst.SetHook(faulty(dst, seed+100, &faults, &cuts))
			res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != digest.FromBytes(raw) {
				t.Errorf("copied %s, want %s", res.Digest, digest.FromBytes(raw))
			}
			assertComplete(t, src, dst, imgs, raw)
		})
	}
}

// TestSmallBlobsDoNotWaitForStreams: with one blob stream, held by a large
// layer whose read waits for a small layer to arrive, the small layer still
// travels: blobs up to smallBlob are small requests, not streams.
func TestSmallBlobsDoNotWaitForStreams(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	large, small := layer("L", smallBlob+1), layer("s", 1000)
	img := src.pushImage("app", "amd64", large, small)
	raw := src.pushIndex("app", "v1", []testImage{img}, nil)
	largeD, smallD := img.layers[0], img.layers[1]

	var timedOut atomic.Bool
	largeOpen := make(chan struct{})
	var once sync.Once
	wait := func(cond func() bool) {
		for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				timedOut.Store(true)
				return
			}
		}
	}
	src.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+largeD.String()):
			// The only stream is now held: the small layer must get through.
			once.Do(func() { close(largeOpen) })
			wait(func() bool { _, ok := dst.blob("app", smallD); return ok })
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+smallD.String()):
			wait(func() bool {
				select {
				case <-largeOpen:
					return true
				default:
					return false
				}
			})
		}
		return false
	})
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{Jobs: 1}, nil); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, src, dst, []testImage{img}, raw)
	if timedOut.Load() {
		t.Error("the small layer waited for the stream the large one held")
	}
}

// TestNewRepositoryOpensSourceDuringMount: into a repository without tags,
// a blob's source is opened while the mount that opens its upload session
// is still unanswered, so the read does not wait a round trip.
func TestNewRepositoryOpensSourceDuringMount(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	img := src.pushImage("app", "amd64", layer("L", smallBlob+1))
	raw := src.pushIndex("app", "v1", []testImage{img}, nil)
	var waited atomic.Bool
	dst.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.Contains(r.URL.RawQuery, img.layers[0].Encoded()) {
			return false
		}
		for deadline := time.Now().Add(3 * time.Second); len(src.requestsMatching(http.MethodGet, "/blobs/"+img.layers[0].String())) == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				waited.Store(true)
				break
			}
		}
		return false
	})
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("app"), "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, src, dst, []testImage{img}, raw)
	if waited.Load() {
		t.Error("the source was opened only once the mount was answered")
	}
	if n := len(src.requestsMatching(http.MethodGet, "/blobs/"+img.layers[0].String())); n != 1 {
		t.Errorf("the layer was read %d times, want once", n)
	}
}
