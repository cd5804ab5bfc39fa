package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/tokenserver"
)

// TestCredentialHelperBounds: a credential helper runs only when a
// registry asks for credentials, is stopped when it does not answer in
// time, and what a failing one printed is never shown.
func TestCredentialHelperBounds(t *testing.T) {
	f := startTokenFixture(t)
	ref := f.reg.Ref("team/seed:v1")

	t.Run("anonymous registry", func(t *testing.T) {
		// Its marker file is the proof of a run.
		e := newEnv(t)
		marker := filepath.Join(e.Dir, "helper-ran")
		installHelper(t, e, "mlist-marker", "echo \"$1\" >> '"+marker+"'\nexit 1\n")
		plain := plainRegistry(t)
		img := plain.PushImage(t, testRepo(t, "app"), "v1", "linux/amd64", harness.ImageOptions{})
		e.writeConfig(t, map[string]any{"credsStore": "mlist-marker", "auths": map[string]any{plain.Host: map[string]any{}}})
		e.mustMlist(t, "inspect", plain.Ref(img.Repo+":v1"))
		// A copy reads the destination tag first: a 404 that is no challenge.
		e.mustMlist(t, "copy", plain.Ref(img.Repo+":v1"), plain.Ref(img.Repo+":copied"))
		if data, err := os.ReadFile(marker); err == nil {
			t.Errorf("the helper ran for an anonymous registry: %q", data)
		}
		// The token registry challenges: the helper runs, once.
		e.mlist("inspect", ref)
		if data, err := os.ReadFile(marker); err != nil || string(data) != "get\n" {
			t.Errorf("helper runs after a challenge: %q, %v; want one get", data, err)
		}
	})

	t.Run("helper that hangs", func(t *testing.T) {
		e := newEnv(t)
		pidFile := filepath.Join(e.Dir, "helper.pid")
		// exec: the stopped process is the helper itself.
		installHelper(t, e, "mlist-hang", "echo $$ > '"+pidFile+"'\nexec sleep 600\n")
		e.writeConfig(t, map[string]any{"credHelpers": map[string]any{f.reg.Host: "mlist-hang"}})
		e.setenv("DOCKER_MLIST_CREDENTIAL_HELPER_TIMEOUT", "1s")
		r := e.mlistFails(t, `credential helper docker-credential-mlist-hang did not answer within 1s and was stopped \(DOCKER_MLIST_CREDENTIAL_HELPER_TIMEOUT sets the wait\)`, "inspect", ref)
		if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
			t.Errorf("stderr has %d lines, want the one error:\n%s", len(lines), r.Stderr)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("the helper never ran: %v", err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid > 0 && alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the helper (pid %d) still runs after the command ended", pid)
		}
		// A helper whose child holds its output open: the command ends while
		// the child still runs, rather than waiting for it.
		installHelper(t, e, "mlist-hang", "sleep 30 &\necho $! > '"+pidFile+"'\nwait\n")
		e.mlistFails(t, `credential helper docker-credential-mlist-hang did not answer within 1s`, "inspect", ref)
		data, err = os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("the helper never ran: %v", err)
		}
		child, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if child <= 0 || !alive(child) {
			t.Errorf("the command waited for the helper's child (pid %d) to end", child)
		} else {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		// A wait that is no duration is refused by name.
		e.setenv("DOCKER_MLIST_CREDENTIAL_HELPER_TIMEOUT", "soon")
		e.mlistFails(t, `invalid DOCKER_MLIST_CREDENTIAL_HELPER_TIMEOUT "soon": want a positive duration such as 30s or 2m`, "inspect", ref)
	})

	t.Run("helper that fails after printing a secret", func(t *testing.T) {
		const secret = "leaked-helper-secret-5e1f"
		registerSecret("secret printed by a failing helper", secret)
		e := newEnv(t)
		installHelper(t, e, "mlist-leaky", "read server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"bob\",\"Secret\":\""+secret+"\"}' \"$server\"\necho \""+secret+"\" >&2\nexit 3\n")
		e.writeConfig(t, map[string]any{"credsStore": "mlist-leaky"})
		for _, args := range [][]string{{"mlist", "inspect", ref}, {"-D", "mlist", "inspect", ref}} {
			r := e.docker(args...)
			if r.ExitCode == 0 {
				t.Fatalf("docker %s succeeded without credentials", strings.Join(args, " "))
			}
			if strings.Contains(r.Stdout+r.Stderr, secret) {
				t.Errorf("docker %s printed the helper's secret:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Stdout, r.Stderr)
			}
			want := "WARNING: credentials for " + f.reg.Host + " unavailable (credential helper docker-credential-mlist-leaky failed (exit status 3)); continuing without them"
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("docker %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, r.Stderr)
			}
		}
	})
}

// alive reports whether pid runs: a zombie, which a subreaper may leave
// unreaped, has ended.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestAuthRealmOverHTTPRefused: a real registry reached over HTTPS whose
// token realm is plain HTTP gets no token request, so the password never
// travels in clear; the command fails with one line naming the realm.
func TestAuthRealmOverHTTPRefused(t *testing.T) {
	for u, acc := range tokenUsers {
		registerLogin(u, acc.Password)
	}
	ts, err := tokenserver.Start(t.TempDir(), tokenUsers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	reg := startAuthRegistry(t, authRegistryOptions{TLS: true, Token: ts})
	e := newEnv(t)
	e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: basicAuth("carol", tokenUsers["carol"].Password)}})
	mark := ts.Mark()
	r := e.docker("-D", "mlist", "inspect", reg.Ref("team/app:v1"))
	want := "registry " + reg.Host + " names token service " + ts.Realm + ", refused: its scheme is http while the registry is reached over https"
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant a failure saying %q", r.ExitCode, r.Stderr, want)
	}
	if n := len(ts.RequestsSince(mark)); n != 0 {
		t.Errorf("the token service received %d requests, want none", n)
	}
	if strings.Contains(r.Stdout+r.Stderr, tokenUsers["carol"].Password) {
		t.Error("the password was printed")
	}
}
