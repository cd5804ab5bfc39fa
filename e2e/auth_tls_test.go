package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestAuthClientCertificates: a registry that requires a client
// certificate (mutual TLS), under a name that is not loopback and with no
// engine, so its certificate is verified against the CA from certs.d. The
// CA and client key pair are found in each directory Docker uses.
func TestAuthClientCertificates(t *testing.T) {
	addHostsEntry(t)
	plain := plainRegistry(t)
	img := plain.PushImage(t, testRepo(t, "src"), "amd64", "linux/amd64", harness.ImageOptions{Layers: 2})
	reg := startAuthRegistry(t, authRegistryOptions{IP: e2eHostIP, Name: e2eHostName, TLS: true, ClientCAs: true})
	clientCrt, clientKey := reg.CA.issue(t, t.TempDir(), "client", "", "")

	// install writes ca.crt, and client.cert/client.key unless caOnly, into
	// root/<host>/, removed at the end of the test.
	install := func(t *testing.T, root string, caOnly bool) {
		t.Helper()
		dir := filepath.Join(root, reg.Host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		files := map[string]string{"ca.crt": reg.CA.file}
		if !caOnly {
			files["client.cert"], files["client.key"] = clientCrt, clientKey
		}
		for name, from := range files {
			data, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	newTLSEnv := func(t *testing.T) *env {
		e := newEnv(t)
		e.setenv("DOCKER_HOST", deadEngine)
		return e
	}
	// use copies the image in, then creates and pushes a list of it.
	use := func(t *testing.T, e *env, tag string) {
		t.Helper()
		dst := reg.Ref("src:" + tag)
		e.mustMlist(t, "copy", srcRef(plain, img), dst)
		e.mustMlist(t, "create", reg.Ref("app:"+tag), dst)
		e.mustMlist(t, "push", reg.Ref("app:"+tag))
	}

	t.Run("/etc/docker/certs.d", func(t *testing.T) {
		e := newTLSEnv(t)
		install(t, harness.DefaultCertsDir, false)
		use(t, e, "etc")
	})
	t.Run("XDG_CONFIG_HOME", func(t *testing.T) {
		e := newTLSEnv(t)
		xdg := filepath.Join(e.Dir, "xdg")
		e.setenv("XDG_CONFIG_HOME", xdg)
		install(t, filepath.Join(xdg, "docker", "certs.d"), false)
		use(t, e, "xdg")
	})
	t.Run("~/.config without XDG_CONFIG_HOME", func(t *testing.T) {
		e := newTLSEnv(t)
		install(t, filepath.Join(e.Home, ".config", "docker", "certs.d"), false)
		use(t, e, "home")
	})
	t.Run("DOCKER_CONFIG", func(t *testing.T) {
		e := newTLSEnv(t)
		install(t, filepath.Join(e.ConfigDir, "certs.d"), false)
		use(t, e, "dockerconfig")
	})
	t.Run("without a client certificate", func(t *testing.T) {
		e := newTLSEnv(t)
		install(t, filepath.Join(e.ConfigDir, "certs.d"), true)
		e.mlistFails(t, `registry `+reg.Host+` requires a client certificate`, "inspect", reg.Ref("src:etc"))
	})
	t.Run("without the CA", func(t *testing.T) {
		e := newTLSEnv(t)
		e.mlistFails(t, `registry `+reg.Host+` .*certificate signed by unknown authority`, "inspect", reg.Ref("src:etc"))
	})
}
