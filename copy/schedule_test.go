package copy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"go.podman.io/image/v5/manifest"
)

// TestWriteTagsARootOnceItsGraphIsThere: a mirror puts the tags of a root
// whose blobs and manifests are written while another root's blob is
// still uploading: the destination holds the upload of arm64's layer until
// amd64's own tag and v2 (a list of amd64 alone) arrive.
func TestWriteTagsARootOnceItsGraphIsThere(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	mirrorFixture(t, src, "app")
	held := registrystub.Digest([]byte("layer of arm64 " + manifest.DockerV2Schema2MediaType))
	want := map[string]bool{"/v2/mirror/manifests/amd64": true, "/v2/mirror/manifests/v2": true}
	var mu sync.Mutex
	seen := map[string]bool{}
	arrived := make(chan struct{})
	var before []string // the tags put before the held upload went on
	dst.SetHook(func(_ http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPut && want[r.URL.Path]:
			mu.Lock()
			seen[r.URL.Path] = true
			if len(seen) == len(want) {
				close(arrived)
			}
			mu.Unlock()
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.URL.Query().Get("digest") == held:
			// A bound, not a timing: a write that waits for every blob
			// before any tag would otherwise never go on.
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			for p := range seen {
				before = append(before, p)
			}
			mu.Unlock()
		}
		return false
	})
	mirror(t, src, dst, TagFilter{})
	if len(before) != len(want) {
		t.Errorf("tags put while arm64's layer uploaded: %v, want %v", before, want)
	}
	if got, ok := dst.Blob("mirror", held); !ok || registrystub.Digest(got) != held {
		t.Errorf("the held layer did not arrive")
	}
}

// TestStreamTakenForTheBodyOnly: a blob stream is held while a body flows,
// not across the round trip that opens the upload session. With one
// stream, the destination holds the first large layer's upload until the
// second layer's session is open; a stream taken before the session would
// keep that session waiting behind the held upload.
func TestStreamTakenForTheBodyOnly(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	var layers []map[string]any
	large := map[string]bool{}
	for i := range 2 {
		// More than the sockets buffer: the held upload keeps its body, and
		// so its stream.
		b := []byte(strings.Repeat(string(rune('a'+i)), 8<<20))
		d := src.PutBlob("app", b)
		large[d] = true
		layers = append(layers, map[string]any{"mediaType": manifest.DockerV2Schema2LayerMediaType, "digest": d, "size": len(b)})
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": manifest.DockerV2Schema2MediaType,
		"config": map[string]any{"mediaType": dockerConfigType, "digest": src.PutBlob("app", cfg), "size": len(cfg)}, "layers": layers})
	src.PutManifest("app", "v1", manifest.DockerV2Schema2MediaType, raw)

	var mu sync.Mutex
	opened := 0
	bothOpen := make(chan struct{})
	heldOnce := sync.Once{}
	var openWhileHeld int
	dst.SetHook(func(_ http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && large[r.URL.Query().Get("mount")]:
			mu.Lock()
			if opened++; opened == len(large) {
				close(bothOpen)
			}
			mu.Unlock()
		case r.Method == http.MethodPut && large[r.URL.Query().Get("digest")]:
			heldOnce.Do(func() {
				// A bound, not a timing: with the stream taken first, the
				// second session opens only after this upload.
				select {
				case <-bothOpen:
				case <-time.After(10 * time.Second):
				}
				mu.Lock()
				openWhileHeld = opened
				mu.Unlock()
			})
		}
		return false
	})
	if _, err := CopySides(context.Background(), regSide(src, "app", "v1"), regSide(dst, "copy", "v1"), Options{Jobs: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if openWhileHeld != len(large) {
		t.Errorf("upload sessions open while the first layer uploaded: %d, want %d", openWhileHeld, len(large))
	}
	if _, ok := dst.Manifest("copy", "v1"); !ok {
		t.Error("the image did not arrive")
	}
}
