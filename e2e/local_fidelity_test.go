package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 17, items 5 to 8: what local transports hold is described as it
// is (layers of a docker-archive, foreign layers), referrers travel to and
// from OCI layouts, and verify --deep sees every level of nested indexes.

// TestVerifyDeepNested: an image missing from the inner index of a nested
// index (a grandchild of the tag) is reported by verify --deep, named with
// the lists above it, exit 1; without --deep the top entries are present
// and verify passes.
func TestVerifyDeepNested(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64", "linux/s390x")
	inner := putIndex(t, reg, repo, "inner", imgs[1].Descriptor(), imgs[2].Descriptor())
	innerDesc := reg.MustGetManifest(t, repo, inner)
	middle := putIndex(t, reg, repo, "middle", harness.Descriptor{MediaType: harness.MediaTypeOCIIndex, Digest: inner, Size: int64(len(innerDesc.Raw))})
	middleDesc := reg.MustGetManifest(t, repo, middle)
	putIndex(t, reg, repo, "nested", imgs[0].Descriptor(), harness.Descriptor{MediaType: harness.MediaTypeOCIIndex, Digest: middle, Size: int64(len(middleDesc.Raw))})
	if status, err := reg.Client().DeleteManifest(repo, imgs[2].Digest); err != nil || status != http.StatusAccepted {
		t.Fatalf("delete %s: %d %v", imgs[2].Digest, status, err)
	}

	r := e.mlist("verify", "--deep", reg.Ref(repo+":nested"))
	if r.ExitCode != 1 {
		t.Fatalf("verify --deep: exit %d, want 1\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	want := "entry linux/s390x (" + imgs[2].Digest + ") of nested list " + inner + " of nested list " + middle + ": manifest not in " + reg.Host + "/" + repo
	if got := strings.TrimRight(r.Stdout, "\n"); got != want {
		t.Errorf("verify --deep printed\n%s\nwant\n%s", got, want)
	}
	if r := e.mlist("verify", reg.Ref(repo+":nested")); r.ExitCode != 0 {
		t.Errorf("verify without --deep: exit %d\n%s", r.ExitCode, r.Stdout)
	}
}
