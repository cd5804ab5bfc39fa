package copy

import (
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
