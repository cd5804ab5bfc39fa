package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// commandTimeout bounds every command a test runs, so a hang fails the test
// instead of the whole run.
const commandTimeout = 3 * time.Minute

// env is a throwaway Docker client configuration with the plugin installed:
// DOCKER_CONFIG=<tmp>/config holding cli-plugins/docker-mlist and
// config.json, and HOME=<tmp>/home so nothing of the host's leaks in.
type env struct {
	t         testing.TB
	Dir       string // root of the environment
	ConfigDir string // DOCKER_CONFIG
	Home      string // HOME
	vars      map[string]string
}

// result is what a command printed and how it exited.
type result struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 when it did not run or was killed
	Err      error
}

// Combined returns stdout followed by stderr.
func (r result) Combined() string { return r.Stdout + r.Stderr }

// newEnv makes an environment whose config.json is {}.
//
// Beware: with no credsStore, credHelpers or auths in config.json, the
// Docker CLI (and so the plugin, which loads the config the same way) picks
// "pass" as credential store whenever `pass` and docker-credential-pass are
// installed, as they are in CI. Reads then find nothing, harmlessly, but
// `docker login` fails with "pass not initialized". Use e.login for
// file-store credentials, or setupPass for a working pass store.
func newEnv(t testing.TB) *env {
	t.Helper()
	probeEngine()
	dir := t.TempDir()
	e := &env{t: t, Dir: dir, ConfigDir: filepath.Join(dir, "config"), Home: filepath.Join(dir, "home"), vars: map[string]string{}}
	for _, d := range []string{filepath.Join(e.ConfigDir, "cli-plugins"), e.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(pluginBinary, filepath.Join(e.ConfigDir, "cli-plugins", "docker-mlist")); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, map[string]any{})
	t.Cleanup(func() { recordDrafts(e.ConfigDir) }) // for checkNoSecrets
	if engine.host != "" {
		e.vars["DOCKER_HOST"] = engine.host
	}
	return e
}

// setenv sets a variable for every command the env runs.
func (e *env) setenv(key, value string) { e.vars[key] = value }

// environ is the host's environment without anything that would point the
// Docker CLI, gpg or pass at the host's own state.
func (e *env) environ() []string {
	drop := map[string]bool{
		"DOCKER_CONFIG": true, "DOCKER_CONTEXT": true, "DOCKER_AUTH_CONFIG": true, "DOCKER_CLI_HOOKS": true,
		"HOME": true, "XDG_CONFIG_HOME": true, "XDG_RUNTIME_DIR": true,
		"GNUPGHOME": true, "PASSWORD_STORE_DIR": true, "GPG_AGENT_INFO": true,
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] && e.vars[k] == "" {
			out = append(out, kv)
		}
	}
	out = append(out, "DOCKER_CONFIG="+e.ConfigDir, "HOME="+e.Home, "DOCKER_CLI_HINTS=false")
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs name with args in the environment, feeding stdin (no stdin when "").
func (e *env) run(stdin, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.Dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if name == "docker" {
		recordOutput(stdout.Bytes(), stderr.Bytes()) // for checkNoSecrets
	}
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1, Err: err}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		r.ExitCode = 0
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		r.Err = errors.New("timed out after " + commandTimeout.String())
	}
	e.t.Logf("$ %s %s  # exit %d\n%s", name, strings.Join(args, " "), r.ExitCode, indent(r.Combined()))
	return r
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// mlist runs `docker mlist args...`.
func (e *env) mlist(args ...string) result {
	return e.run("", "docker", append([]string{"mlist"}, args...)...)
}

// mustMlist runs `docker mlist args...`, fails t unless it exits 0, and
// returns stdout.
func (e *env) mustMlist(t testing.TB, args ...string) string {
	t.Helper()
	return mustSucceed(t, e.mlist(args...), "docker mlist "+strings.Join(args, " "))
}

// mlistFails runs `docker mlist args...`, fails t if it exits 0 or if its
// stderr does not match the regexp errRE, and returns the result.
func (e *env) mlistFails(t testing.TB, errRE string, args ...string) result {
	t.Helper()
	r := e.mlist(args...)
	if r.ExitCode == 0 {
		t.Fatalf("docker mlist %s succeeded, want failure matching %q\nstdout:\n%s", strings.Join(args, " "), errRE, r.Stdout)
	}
	if !regexp.MustCompile(errRE).MatchString(r.Stderr) {
		t.Fatalf("docker mlist %s: stderr does not match %q:\n%s", strings.Join(args, " "), errRE, r.Stderr)
	}
	return r
}

// docker runs `docker args...` (docker manifest, docker login, docker pull…).
func (e *env) docker(args ...string) result { return e.run("", "docker", args...) }

// dockerStdin runs `docker args...` with stdin, e.g. login --password-stdin.
func (e *env) dockerStdin(stdin string, args ...string) result {
	return e.run(stdin, "docker", args...)
}

// mustDocker runs `docker args...`, fails t unless it exits 0, and returns stdout.
func (e *env) mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	return mustSucceed(t, e.docker(args...), "docker "+strings.Join(args, " "))
}

func mustSucceed(t testing.TB, r result, what string) string {
	t.Helper()
	if r.ExitCode != 0 {
		t.Fatalf("%s: exit %d (%v)\nstderr:\n%s\nstdout:\n%s", what, r.ExitCode, r.Err, r.Stderr, r.Stdout)
	}
	return r.Stdout
}

// configPath is DOCKER_CONFIG/config.json.
func (e *env) configPath() string { return filepath.Join(e.ConfigDir, "config.json") }

// readConfig decodes config.json.
func (e *env) readConfig(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(e.configPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, data)
	}
	return cfg
}

// writeConfig replaces config.json.
func (e *env) writeConfig(t testing.TB, cfg map[string]any) {
	t.Helper()
	data, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.configPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// updateConfig merges keys into config.json.
func (e *env) updateConfig(t testing.TB, keys map[string]any) {
	t.Helper()
	cfg := e.readConfig(t)
	for k, v := range keys {
		cfg[k] = v
	}
	e.writeConfig(t, cfg)
}

// login stores user:password for host in config.json's auths, the way
// `docker login` does with the file store, without needing an engine.
func (e *env) login(t testing.TB, host, user, password string) {
	t.Helper()
	cfg := e.readConfig(t)
	auths, _ := cfg["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	auths[host] = map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	cfg["auths"] = auths
	e.writeConfig(t, cfg)
}

// setupPass gives the env a working `pass` credential store: a throwaway gpg
// key without passphrase in a temporary GNUPGHOME, a password store
// initialised for it, and "credsStore": "pass" in config.json. `docker
// login` then stores credentials through docker-credential-pass.
func setupPass(t testing.TB, e *env) {
	t.Helper()
	requireTools(t, "gpg", "gpgconf", "pass", "docker-credential-pass")
	// gpg-agent's socket path must stay short (108 bytes), so not t.TempDir().
	gnupg, err := os.MkdirTemp("", "e2e-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	e.setenv("GNUPGHOME", gnupg)
	e.setenv("PASSWORD_STORE_DIR", filepath.Join(e.Dir, "password-store"))
	t.Cleanup(func() {
		// The agent outlives gpg; stop it before removing its home.
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = e.environ()
		_ = cmd.Run()
		_ = os.RemoveAll(gnupg)
	})
	keyParams := `%no-protection
Key-Type: eddsa
Key-Curve: ed25519
Key-Usage: sign
Subkey-Type: ecdh
Subkey-Curve: cv25519
Subkey-Usage: encrypt
Name-Real: docker-mlist e2e
Name-Email: e2e@docker-mlist.invalid
Expire-Date: 0
%commit
`
	mustSucceed(t, e.run(keyParams, "gpg", "--batch", "--gen-key"), "gpg --batch --gen-key")
	out := mustSucceed(t, e.run("", "gpg", "--batch", "--with-colons", "--list-secret-keys"), "gpg --list-secret-keys")
	var fpr string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatalf("no fingerprint in gpg --list-secret-keys:\n%s", out)
	}
	mustSucceed(t, e.run("", "pass", "init", fpr), "pass init")
	e.updateConfig(t, map[string]any{"credsStore": "pass"})
}
