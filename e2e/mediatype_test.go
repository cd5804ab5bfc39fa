package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// ociOnly puts in front of reg a stub that refuses Docker manifests as zot
// does without its Docker compatibility: 415 with MANIFEST_INVALID.
func ociOnly(t *testing.T, reg *harness.Registry) *proxy.Proxy {
	t.Helper()
	p, err := proxy.Start(reg.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/vnd.docker.") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{
			"code": "MANIFEST_INVALID", "message": "manifest invalid: unsupported media type " + r.Header.Get("Content-Type")}}})
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestDockerMediaTypeRefused: a registry that refuses Docker media types
// gets an error that says so and suggests --media-type oci, and once it has
// refused a Docker manifest nothing more is uploaded; with --media-type oci
// the same copy lands, valid.
func TestDockerMediaTypeRefused(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{Layers: 2}, "linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le")
	reg.PushList(t, srcRepo, "v1", imgs, harness.ListOptions{})
	dst := startRegistry(t, harness.RegistryOptions{})
	p := ociOnly(t, dst)
	e := newEnv(t)
	want := `refused the media type application/vnd\.docker\.distribution\.manifest\.(v2|list\.v2)\+json.*use --media-type oci`

	t.Run("copy", func(t *testing.T) {
		p.Reset()
		e.mlistFails(t, want, "copy", reg.Ref(srcRepo+":v1"), p.Host+"/mirror:v1")
		nothingAfterRefusal(t, p)
		d := strings.TrimSpace(e.mustMlist(t, "copy", "--media-type", "oci", reg.Ref(srcRepo+":v1"), p.Host+"/mirror:v1"))
		if m := dst.MustGetManifest(t, "mirror", "v1"); m.MediaType != harness.MediaTypeOCIIndex || !strings.Contains(d, m.Digest) {
			t.Errorf("copy --media-type oci: %s holds %s %s", d, m.MediaType, m.Digest)
		}
		dst.Validate(t, "mirror:v1")
	})

	t.Run("push", func(t *testing.T) {
		list := p.Host + "/app:v1"
		args := []string{"create", list}
		for _, img := range imgs {
			args = append(args, srcRef(reg, img))
		}
		e.mustMlist(t, args...)
		p.Reset()
		e.mlistFails(t, want, "push", list)
		nothingAfterRefusal(t, p)
	})
}

// nothingAfterRefusal checks that the destination saw one manifest PUT, the
// refused one, and no blob request that began after it was answered.
func nothingAfterRefusal(t *testing.T, p *proxy.Proxy) {
	t.Helper()
	log := p.Log()
	refused := int64(-1)
	for _, l := range log {
		if l.Status == http.StatusUnsupportedMediaType && (refused < 0 || l.End < refused) {
			refused = l.End
		}
	}
	if refused < 0 {
		t.Fatalf("no manifest was refused:\n%v", p.Requests())
	}
	var after []string
	for _, l := range log {
		if l.IsBlob() && l.Start > refused {
			after = append(after, l.String())
		}
	}
	if len(after) > 0 {
		t.Errorf("%d blob requests began after the first refusal: %v", len(after), after)
	}
	if n := p.Requests().Count(http.MethodPut, "/manifests/"); n != 1 {
		t.Errorf("%d manifest PUTs, want the one refused:\n%v", n, p.Requests())
	}
}
