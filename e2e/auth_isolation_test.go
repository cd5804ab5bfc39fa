package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// placeFile writes data to path until the test ends, then restores what was
// there (or removes the file and the directories it created).
func placeFile(t *testing.T, path, data string) {
	t.Helper()
	orig, err := os.ReadFile(path)
	existed := err == nil
	// The first missing ancestor is removed at the end, with all below it.
	var created string
	for dir := filepath.Dir(path); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		created = dir
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		skipUnlessCI(t, "cannot create %s: %v", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		skipUnlessCI(t, "cannot write %s: %v", path, err)
	}
	t.Cleanup(func() {
		switch {
		case existed:
			_ = os.WriteFile(path, orig, 0o644)
		case created != "":
			_ = os.RemoveAll(created)
		default:
			_ = os.Remove(path)
		}
	})
}

// TestAuthIgnoresContainersConfig: the copies that go through
// containers/image (archives, --media-type) use the Docker CLI's
// credentials and ignore podman's registries.conf, policy.json and
// auth.json, however hostile.
func TestAuthIgnoresContainersConfig(t *testing.T) {
	reg := authRegistry(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	reg.PushList(t, repo, "v1", imgs, harness.ListOptions{})

	e := newEnv(t)
	e.login(t, reg.Host, testUser, testPassword)
	wrong := base64.StdEncoding.EncodeToString([]byte("mallory:not-the-password"))
	hostile := `unqualified-search-registries = ["mlist-e2e.invalid"]
short-name-mode = "enforcing"

[[registry]]
location = "` + reg.Host + `"
blocked = true
insecure = false

[[registry.mirror]]
location = "127.0.0.1:9"
`
	placeFile(t, "/etc/containers/registries.conf", hostile)
	placeFile(t, "/etc/containers/policy.json", `{"default":[{"type":"reject"}]}`)
	placeFile(t, filepath.Join(e.Home, ".config", "containers", "registries.conf"), hostile)
	placeFile(t, filepath.Join(e.Home, ".config", "containers", "auth.json"), `{"auths":{"`+reg.Host+`":{"auth":"`+wrong+`"}}}`)
	placeFile(t, filepath.Join(e.Home, ".config", "containers", "policy.json"), `{"default":[{"type":"reject"}]}`)

	archive := filepath.Join(e.Dir, "app.tar")
	e.mustMlist(t, "copy", "--media-type", "oci", reg.Ref(repo+":v1"), "oci-archive:"+archive+":v1")
	if fi, err := os.Stat(archive); err != nil || fi.Size() == 0 {
		t.Fatalf("no archive written: %v", err)
	}
	converted := testRepo(t, "oci")
	e.mustMlist(t, "copy", "oci-archive:"+archive+":v1", reg.Ref(converted+":v1"))
	if m := reg.MustGetManifest(t, converted, "v1"); m.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("copied back a %s, want an OCI index", m.MediaType)
	}
	// The same with --debug: nothing of the hostile files is mentioned.
	r := e.docker("--debug", "mlist", "copy", "--media-type", "docker", reg.Ref(converted+":v1"), reg.Ref(converted+":docker"))
	mustSucceed(t, r, "docker --debug mlist copy --media-type docker")
	for _, s := range []string{"mallory", "127.0.0.1:9/", "blocked"} {
		if strings.Contains(r.Stderr, s) {
			t.Errorf("--debug output mentions %q from podman's configuration:\n%s", s, r.Stderr)
		}
	}
}
