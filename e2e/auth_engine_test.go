package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// e2eHostName is a name that is not literally loopback, mapped to
// e2eHostIP in /etc/hosts while a test needs it.
const (
	e2eHostName = "mlist-e2e.test"
	e2eHostIP   = "127.0.0.2"
)

var hostsMu sync.Mutex

// addHostsEntry maps e2eHostName to e2eHostIP in /etc/hosts until the test
// ends, or skips the test when /etc/hosts is not writable (fails it in CI).
func addHostsEntry(t *testing.T) {
	t.Helper()
	hostsMu.Lock()
	orig, err := os.ReadFile("/etc/hosts")
	if err != nil {
		hostsMu.Unlock()
		skipUnlessCI(t, "reading /etc/hosts: %v", err)
	}
	line := e2eHostIP + " " + e2eHostName + " # docker-mlist e2e, removed when the test ends\n"
	updated := append(bytes.TrimRight(bytes.Clone(orig), "\n"), '\n')
	if err := os.WriteFile("/etc/hosts", append(updated, line...), 0o644); err != nil {
		hostsMu.Unlock()
		skipUnlessCI(t, "cannot add %s to /etc/hosts (needs root): %v", e2eHostName, err)
	}
	t.Cleanup(func() {
		defer hostsMu.Unlock()
		if err := os.WriteFile("/etc/hosts", orig, 0o644); err != nil {
			t.Errorf("restoring /etc/hosts: %v", err)
		}
	})
}

// deadEngine is a DOCKER_HOST where no engine answers.
const deadEngine = "unix:///nonexistent.sock"

// TestAuthEngineInsecure: a plain-HTTP registry under a name that is not
// literally loopback is insecure when the current context's engine says so
// (its insecure CIDRs include 127.0.0.0/8), and not without an engine
// unless config.json lists it. --context, DOCKER_CONTEXT and -H choose the
// engine asked.
func TestAuthEngineInsecure(t *testing.T) {
	addHostsEntry(t)
	reg := startAuthRegistry(t, authRegistryOptions{IP: e2eHostIP, Name: e2eHostName})
	img, err := reg.Client("", "").PushImage("src", "amd64", "linux/amd64", harness.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	source := reg.Ref(img.Repo + ":" + img.Tag)
	refuseRE := `registry ` + reg.Host + ` answers plain HTTP; mark it insecure \(--insecure\)`

	t.Run("no engine", func(t *testing.T) {
		e := newEnv(t)
		e.setenv("DOCKER_HOST", deadEngine)
		e.mlistFails(t, refuseRE, "create", reg.Ref("app:nodaemon"), source)
		r := e.docker("--debug", "mlist", "create", reg.Ref("app:nodaemon"), source)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "engine registry settings not used: no Docker engine reachable") {
			t.Errorf("with --debug, the plugin should say why the engine was not used:\n%s", r.Stderr)
		}
		e.mustMlist(t, "create", "--insecure", reg.Ref("app:flag"), source)
	})

	t.Run("-H", func(t *testing.T) {
		e := newEnv(t)
		r := e.docker("-H", deadEngine, "mlist", "create", reg.Ref("app:h"), source)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "--insecure") {
			t.Errorf("docker -H %s mlist create: want the insecure hint, got exit %d:\n%s", deadEngine, r.ExitCode, r.Stderr)
		}
	})

	t.Run("config.json insecure-registries", func(t *testing.T) {
		e := newEnv(t)
		e.setenv("DOCKER_HOST", deadEngine)
		e.writeConfig(t, map[string]any{"plugins": map[string]any{"mlist": map[string]any{"insecure-registries": "other.invalid:5000, " + reg.Host}}})
		e.mustMlist(t, "create", reg.Ref("app:config"), source)
	})

	t.Run("engine", func(t *testing.T) {
		requireEngine(t)
		e := newEnv(t)
		cidrs := e.mustDocker(t, "info", "--format", "{{json .RegistryConfig.InsecureRegistryCIDRs}}")
		if !strings.Contains(cidrs, "127.0.0.0/8") {
			skipUnlessCI(t, "the engine's insecure CIDRs %s do not cover %s", strings.TrimSpace(cidrs), e2eHostIP)
		}
		e.mustMlist(t, "create", reg.Ref("app:engine"), source)

		// A context naming the live engine, and one naming none.
		live := e.mustDocker(t, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}")
		e.mustDocker(t, "context", "create", "mlist-live", "--docker", "host="+strings.TrimSpace(live))
		e.mustDocker(t, "context", "create", "mlist-dead", "--docker", "host="+deadEngine)
		if r := e.docker("--context", "mlist-dead", "mlist", "create", reg.Ref("app:ctx"), source); r.ExitCode == 0 || !strings.Contains(r.Stderr, "--insecure") {
			t.Errorf("--context mlist-dead: want the insecure hint, got exit %d:\n%s", r.ExitCode, r.Stderr)
		}
		e.mustDocker(t, "--context", "mlist-live", "mlist", "create", reg.Ref("app:ctx"), source)
		e.setenv("DOCKER_CONTEXT", "mlist-dead")
		e.mlistFails(t, refuseRE, "create", reg.Ref("app:envctx"), source)
		e.setenv("DOCKER_CONTEXT", "mlist-live")
		e.mustMlist(t, "create", reg.Ref("app:envctx"), source)
	})
}

// TestAuthConfigFlag: `docker --config DIR mlist` reads and writes DIR's
// drafts, the plugin being found in DIR/cli-plugins.
func TestAuthConfigFlag(t *testing.T) {
	reg := plainRegistry(t)
	img := reg.PushImage(t, testRepo(t, "src"), "amd64", "linux/amd64", harness.ImageOptions{})
	a, b := newEnv(t), newEnv(t)
	list := reg.Ref(testRepo(t, "app") + ":v1")
	b.mustDocker(t, "--config", a.ConfigDir, "mlist", "create", list, srcRef(reg, img))
	if out := a.mustMlist(t, "ls"); !strings.Contains(out, list) {
		t.Errorf("the draft created with --config %s is not in its ls:\n%s", a.ConfigDir, out)
	}
	if out := b.mustMlist(t, "ls"); strings.Contains(out, list) {
		t.Errorf("the draft created with --config went to DOCKER_CONFIG:\n%s", out)
	}
	if out := b.mustDocker(t, "--config", a.ConfigDir, "mlist", "ls"); !strings.Contains(out, list) {
		t.Errorf("docker --config %s mlist ls does not list the draft:\n%s", a.ConfigDir, out)
	}

	// Installed through cliPluginsExtraDirs instead of DIR/cli-plugins.
	c := newEnv(t)
	extra := filepath.Join(c.Dir, "plugins")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(c.ConfigDir, "cli-plugins", "docker-mlist"), filepath.Join(extra, "docker-mlist")); err != nil {
		t.Fatal(err)
	}
	c.writeConfig(t, map[string]any{"cliPluginsExtraDirs": []string{extra}})
	b.mustDocker(t, "--config", c.ConfigDir, "mlist", "create", list, srcRef(reg, img))
	if out := c.mustMlist(t, "ls"); !strings.Contains(out, list) {
		t.Errorf("the draft created with --config %s is not in its ls:\n%s", c.ConfigDir, out)
	}
}
