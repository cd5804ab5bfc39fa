package e2e

import (
	"regexp"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 19, item 5: success reads as success, and a rejected password is
// named by where it came from.

// TestCreateReadsAsSuccess: create says what it made on stdout, and why
// the list has its type on its own note line; asked for a type, no note.
func TestCreateReadsAsSuccess(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	ref := reg.Ref(repo + ":v1")
	r := e.mlist("create", ref, reg.DigestRef(repo, imgs[0].Digest), reg.DigestRef(repo, imgs[1].Digest))
	mustSucceed(t, r, "create")
	if want := "Created Docker manifest list " + ref + " (2 entries)\n"; r.Stdout != want {
		t.Errorf("create printed %q, want %q", r.Stdout, want)
	}
	if want := "note: Docker manifest list because every entry is a Docker image (--media-type oci makes an OCI index)\n"; r.Stderr != want {
		t.Errorf("create's stderr %q, want %q", r.Stderr, want)
	}
	r = e.mlist("create", "--media-type", "oci", reg.Ref(repo+":v2"), reg.DigestRef(repo, imgs[0].Digest))
	mustSucceed(t, r, "create --media-type oci")
	if want := "Created OCI index " + reg.Ref(repo+":v2") + " (1 entry)\n"; r.Stdout != want || r.Stderr != "" {
		t.Errorf("create --media-type oci printed %q and %q, want %q and nothing on stderr", r.Stdout, r.Stderr, want)
	}
}

// TestRejectedConfigCredentials: a wrong password in config.json's auths
// is named as that entry, without a docker login hint or the password.
func TestRejectedConfigCredentials(t *testing.T) {
	reg := authRegistry(t)
	e := newEnv(t)
	e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: basicAuth(testUser, "stale-password")}})
	r := e.mlistFails(t, `rejected the credentials from the auths entry for `+regexp.QuoteMeta(reg.Host)+` in \S+config\.json\n$`, "inspect", reg.Ref(testRepo(t, "app")+":v1"))
	if regexp.MustCompile(`docker login|stale-password`).MatchString(r.Stderr) {
		t.Errorf("error suggests docker login or shows the password:\n%s", r.Stderr)
	}
}
