package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestCopyForbiddenMount: a copy within one token registry with an account
// per side, where the destination's account may not read the source. The
// mount is refused; each blob streams through the source's account instead,
// and --debug says so.
func TestCopyForbiddenMount(t *testing.T) {
	f := startTokenFixture(t)
	reg := f.reg
	admin := reg.Client("admin", tokenUsers["admin"].Password)
	// alice pushes to team/* and reads base/* only: private/* is bob's to read.
	var images []harness.Image
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img, err := admin.PushImage("private/app", strings.ReplaceAll(p, "/", "-"), p, harness.ImageOptions{Layers: 2})
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, img)
	}
	list, err := admin.PushList("private/app", "v1", images, harness.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	e := fileStoreEnv(t)
	rm := reg.Mark()
	r := e.docker("--debug", "mlist", "copy",
		"--src-creds", "bob:"+tokenUsers["bob"].Password, "--dest-creds", "alice:"+tokenUsers["alice"].Password,
		reg.Ref("private/app:v1"), reg.Ref("team/private-copy:v1"))
	out := mustSucceed(t, r, "docker mlist copy")
	if got := strings.TrimSpace(out); got != list.Digest {
		t.Errorf("copy printed %q, want %s", got, list.Digest)
	}
	if !strings.Contains(r.Stderr, "through the source's credentials") {
		t.Errorf("--debug does not say the mount fell back to streaming:\n%s", r.Stderr)
	}
	log := reg.RequestsSince(rm).ForRepo("team/private-copy")
	refused := log.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=") && r.Status == http.StatusUnauthorized
	})
	if len(refused) == 0 {
		t.Errorf("no refused mount:\n%s", log)
	}
	uploads := log.Filter(func(r harness.Request) bool {
		return r.IsBlob() && r.Method == http.MethodPut && r.Status == http.StatusCreated
	})
	if blobs := 2 * (1 + 2); len(uploads) != blobs {
		t.Errorf("%d blobs uploaded, want %d (a config and two layers per image):\n%s", len(uploads), blobs, log)
	}
	m, err := reg.Client("bob", tokenUsers["bob"].Password).GetManifest("team/private-copy", "v1")
	if err != nil || m.Digest != list.Digest {
		t.Errorf("team/private-copy:v1 is %s (%v), want %s", m.Digest, err, list.Digest)
	}
}

// TestCopyConvertAttestedRefusedUpFront: converting a list with buildx
// attestations to Docker manifests fails on the attestation before anything
// is written: no entry, no blob, no tag at the destination.
func TestCopyConvertAttestedRefusedUpFront(t *testing.T) {
	reg := plainRegistry(t)
	src, dst := testRepo(t, "src"), testRepo(t, "dst")
	images := reg.PushImages(t, src, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	reg.PushList(t, src, "v1", images, harness.ListOptions{OCI: true, Attestations: true})
	e := newEnv(t)
	rm := reg.Mark()
	r := e.mlistFails(t, `^copy \S+`+src+`:v1 to \S+`+dst+`:v1: entry sha256:[0-9a-f]+ \(attestation of `+images[0].Digest+`\): cannot be converted to `,
		"copy", "--media-type", "docker", reg.Ref(src+":v1"), reg.Ref(dst+":v1"))
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
		t.Errorf("want a one-line error, got:\n%s", r.Stderr)
	}
	if writes := reg.RequestsSince(rm).ForRepo(dst).Filter(func(r harness.Request) bool {
		return r.Method != http.MethodGet && r.Method != http.MethodHead
	}); len(writes) != 0 {
		t.Errorf("the destination was written to:\n%s", writes)
	}
}
