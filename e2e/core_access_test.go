package e2e

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// createAndPush creates a list of imgs as repo:tag on reg, pushes it and
// checks the registry holds it with every entry.
func createAndPush(t *testing.T, e *env, reg *harness.Registry, repo, tag string, imgs []harness.Image) string {
	t.Helper()
	list := reg.Ref(repo + ":" + tag)
	args := []string{"create", list}
	var platforms []string
	for _, img := range imgs {
		args = append(args, srcRef(reg, img))
		platforms = append(platforms, img.Platform.String())
	}
	e.mustMlist(t, args...)
	d := mustPush(t, e, "--purge", list)
	m, ix := reg.MustGetIndex(t, repo, tag)
	if m.Digest != d || !slices.Equal(ix.Platforms(), platforms) {
		t.Errorf("registry holds %s with %v; push printed %s, want %v", m.Digest, ix.Platforms(), d, platforms)
	}
	assertEntriesIn(t, reg, repo, ix, rawByDigest(imgs...))
	reg.Validate(t, repo+":"+tag)
	return d
}

// TestAuthRegistry uses the htpasswd registry with credentials in
// config.json's auths and in a real credential helper, and checks a wrong
// password fails cleanly.
func TestAuthRegistry(t *testing.T) {
	reg := authRegistry(t)
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	repo := testRepo(t, "app")

	t.Run("auths", func(t *testing.T) {
		e := newEnv(t)
		e.login(t, reg.Host, testUser, testPassword)
		createAndPush(t, e, reg, repo, "auths", imgs)
	})

	t.Run("credential helper", func(t *testing.T) {
		e := newEnv(t)
		setupPass(t, e)
		mustSucceed(t, e.dockerStdin(testPassword, "login", "-u", testUser, "--password-stdin", reg.Host), "docker login")
		createAndPush(t, e, reg, repo, "pass", imgs)
		raw, err := os.ReadFile(e.configPath())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), `"auth"`) || strings.Contains(string(raw), testPassword) {
			t.Errorf("config.json holds credentials although they are in pass:\n%s", raw)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		repo := testRepo(t, "app") // its own: the entries must not be there yet
		e := newEnv(t)
		e.login(t, reg.Host, testUser, "not-"+testPassword)
		r := failsOneLine(t, e, []string{reg.Host}, "create", reg.Ref(repo+":wrong"), srcRef(reg, imgs[0]))
		if strings.Contains(r.Stderr, testPassword) {
			t.Errorf("the error shows the password: %s", r.Stderr)
		}
		if files := draftFileNames(t, e); len(files) > 0 {
			t.Errorf("a failed create wrote drafts: %v", files)
		}

		// A draft made with good credentials, pushed with a wrong password.
		e.login(t, reg.Host, testUser, testPassword)
		e.mustMlist(t, "create", reg.Ref(repo+":wrong"), srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
		e.login(t, reg.Host, testUser, "not-"+testPassword)
		before := draftFiles(t, e)
		failsOneLine(t, e, []string{reg.Host}, "push", reg.Ref(repo+":wrong"))
		assertDraftsUnchanged(t, e, before)
		if m := reg.GetManifest(t, repo, "wrong"); m.Status != http.StatusNotFound {
			t.Errorf("%s exists after a push with a wrong password (status %d)", reg.Ref(repo+":wrong"), m.Status)
		}
		for _, img := range imgs {
			if m := reg.GetManifest(t, repo, img.Digest); m.Status != http.StatusNotFound {
				t.Errorf("entry %s reached %s with a wrong password", img.Digest, repo)
			}
		}
	})
}

// TestTLSRegistry creates, pushes and inspects on the HTTPS registry whose CA
// is in /etc/docker/certs.d, without --insecure.
func TestTLSRegistry(t *testing.T) {
	reg := tlsRegistry(t)
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/s390x")
	repo := testRepo(t, "app")
	e := newEnv(t)
	mark := reg.Mark()
	d := createAndPush(t, e, reg, repo, "v1", imgs)
	if raw := e.mustMlist(t, "inspect", "--raw", reg.Ref(repo+":v1")); harness.Digest([]byte(raw)) != d {
		t.Errorf("inspect --raw hashes to %s, pushed %s", harness.Digest([]byte(raw)), d)
	}
	if n := reg.RequestsSince(mark).ForRepo(repo).Count(http.MethodPut, "/manifests/v1"); n != 1 {
		t.Errorf("%d PUTs of the list over HTTPS, want 1", n)
	}
}
