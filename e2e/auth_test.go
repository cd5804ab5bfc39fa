package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/tokenserver"
)

// Issue 5, credential-aware: bearer-token registries, every credential
// source of the Docker CLI, contexts and the engine's insecure registries,
// isolation from podman's configuration, certificates.

// Accounts of the token server. alice may push to team/* and read base/*;
// bob and carol may only read; admin seeds content.
var tokenUsers = map[string]tokenserver.User{
	"alice": {Password: "alice-tok-pw-31f9", Grants: []tokenserver.Grant{{Pattern: "team/*", Actions: []string{"pull", "push"}}, {Pattern: "base/*", Actions: []string{"pull"}}}},
	"bob":   {Password: "bob-tok-pw-8d2e", Grants: []tokenserver.Grant{{Pattern: "*", Actions: []string{"pull"}}}},
	"carol": {Password: "carol-tok-pw-77ab", Grants: []tokenserver.Grant{{Pattern: "*", Actions: []string{"pull"}}}},
	"admin": {Password: "admin-tok-pw-c0de", Grants: []tokenserver.Grant{{Pattern: "*", Actions: []string{"pull", "push", "delete"}}}},
}

// tokenFixture is a registry with token auth and what was seeded into it.
type tokenFixture struct {
	ts  *tokenserver.Server
	reg *authReg
	// base/app:amd64, base/app:arm64, base/tools:armv7, and the list
	// team/seed:v1 of the first two.
	amd, arm, armv7 harness.Image
}

func startTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	for u, acc := range tokenUsers {
		registerLogin(u, acc.Password)
	}
	ts, err := tokenserver.Start(t.TempDir(), tokenUsers)
	if err != nil {
		t.Fatal(err)
	}
	ts.OnIssue = func(s string) { registerSecret("token-server token", s) }
	t.Cleanup(func() { _ = ts.Close() })
	f := &tokenFixture{ts: ts, reg: startAuthRegistry(t, authRegistryOptions{Token: ts})}
	admin := f.reg.Client("admin", tokenUsers["admin"].Password)
	must := func(img harness.Image, err error) harness.Image {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
		return img
	}
	f.amd = must(admin.PushImage("base/app", "amd64", "linux/amd64", harness.ImageOptions{Layers: 2}))
	f.arm = must(admin.PushImage("base/app", "arm64", "linux/arm64", harness.ImageOptions{Layers: 2}))
	f.armv7 = must(admin.PushImage("base/tools", "armv7", "linux/arm/v7", harness.ImageOptions{}))
	if _, err := admin.PushList("team/seed", "v1", []harness.Image{f.amd, f.arm}, harness.ListOptions{}); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	return f
}

// tokenRequests returns the token requests since mark, failing unless
// there are exactly want.
func (f *tokenFixture) tokenRequests(t *testing.T, mark, want int) []tokenserver.Request {
	t.Helper()
	reqs := f.ts.RequestsSince(mark)
	if len(reqs) != want {
		var b strings.Builder
		for _, r := range reqs {
			b.WriteString(r.String() + "\n")
		}
		t.Errorf("%d token requests, want %d:\n%s", len(reqs), want, b.String())
	}
	return reqs
}

// fileStoreEnv is an env whose credentials live in config.json (a dummy
// auths entry keeps the CLI from picking `pass` as default store).
func fileStoreEnv(t *testing.T) *env {
	e := newEnv(t)
	e.writeConfig(t, map[string]any{"auths": map[string]any{"placeholder.invalid": map[string]any{}}})
	return e
}

func TestAuthToken(t *testing.T) {
	f := startTokenFixture(t)
	reg := f.reg
	alice := tokenUsers["alice"].Password

	e := fileStoreEnv(t)
	if engineAvailable(t) {
		// The engine performs the login against the token server.
		out := mustSucceed(t, e.dockerStdin(alice, "login", "-u", "alice", "--password-stdin", reg.Host), "docker login")
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login: %s", out)
		}
	} else {
		e.login(t, reg.Host, "alice", alice)
	}

	t.Run("push mounts from two repositories with one token", func(t *testing.T) {
		list := reg.Ref("team/app:v1")
		e.mustMlist(t, "create", list, reg.Ref("base/app:amd64"), reg.Ref("base/app:arm64"), reg.Ref("base/tools:armv7"))
		tm, rm := f.ts.Mark(), reg.Mark()
		out := e.mustMlist(t, "push", list)
		reqs := f.tokenRequests(t, tm, 1)
		if len(reqs) == 1 {
			r := reqs[0]
			for _, want := range []string{"repository:team/app:pull,push", "repository:base/app:pull", "repository:base/tools:pull"} {
				if !slices.Contains(r.Scopes, want) {
					t.Errorf("token request scopes %v lack %s", r.Scopes, want)
				}
			}
			if r.User != "alice" {
				t.Errorf("token request as %q, want alice", r.User)
			}
		}
		log := reg.RequestsSince(rm).ForRepo("team/app")
		mounts := log.Filter(func(r harness.Request) bool {
			return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=")
		})
		// Two layers and a config for each base/app image, one layer and a config for armv7.
		if len(mounts) != 3+3+2 {
			t.Errorf("%d mounts, want 8:\n%s", len(mounts), log)
		}
		for _, m := range mounts {
			if m.Status != http.StatusCreated {
				t.Errorf("mount answered %d: %s", m.Status, m)
			}
		}
		if up := log.Filter(func(r harness.Request) bool {
			return r.IsBlob() && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
		}); len(up) != 0 {
			t.Errorf("blobs uploaded instead of mounted:\n%s", up)
		}
		d := strings.TrimSpace(out)
		if m, err := reg.Client("bob", tokenUsers["bob"].Password).GetManifest("team/app", "v1"); err != nil || m.Digest != d {
			t.Errorf("team/app:v1 is %s (%v), push printed %s", m.Digest, err, d)
		}
	})

	t.Run("merge between repositories", func(t *testing.T) {
		other := reg.Ref("team/merged:v1")
		e.mustMlist(t, "create", other, reg.Ref("base/tools:armv7"))
		e.mustMlist(t, "push", "--purge", other)
		tm := f.ts.Mark()
		e.mustMlist(t, "merge", reg.Ref("team/seed:v1"), other)
		f.tokenRequests(t, tm, 1)
		m, err := reg.Client("bob", tokenUsers["bob"].Password).GetManifest("team/merged", "v1")
		if err != nil {
			t.Fatal(err)
		}
		ix, err := m.Index()
		if err != nil {
			t.Fatal(err)
		}
		if got := ix.Platforms(); len(got) != 3 {
			t.Errorf("merged list has platforms %v, want linux/amd64, linux/arm64, linux/arm/v7", got)
		}
	})

	t.Run("copy between repositories", func(t *testing.T) {
		tm, rm := f.ts.Mark(), reg.Mark()
		e.mustDocker(t, "--debug", "mlist", "copy", reg.Ref("team/seed:v1"), reg.Ref("team/copied:v1"))
		f.tokenRequests(t, tm, 1)
		log := reg.RequestsSince(rm).ForRepo("team/copied")
		if up := log.Filter(func(r harness.Request) bool { return r.IsBlob() && r.Method == http.MethodPatch }); len(up) != 0 {
			t.Errorf("blobs uploaded instead of mounted:\n%s", up)
		}
		if n := log.Filter(func(r harness.Request) bool {
			return strings.Contains(r.Query, "mount=") && r.Status == http.StatusCreated
		}); len(n) == 0 {
			t.Errorf("no mounts:\n%s", log)
		}
	})

	t.Run("read-only user cannot push", func(t *testing.T) {
		b := fileStoreEnv(t)
		b.login(t, reg.Host, "bob", tokenUsers["bob"].Password)
		list := reg.Ref("team/bob:v1")
		b.mustMlist(t, "create", list, reg.Ref("base/app:amd64"))
		r := b.mlistFails(t, `^push \S+team/bob:v1: \S+team/bob@sha256:[0-9a-f]+: denied: the credentials in use are not granted pull,push access to team/bob by \S+\n$`, "push", list)
		if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
			t.Errorf("want a one-line error, got:\n%s", r.Stderr)
		}
	})
}

// credHelper installs docker-credential-<name> into a directory on the env's
// PATH; `get` answers username and secret for every server.
func credHelper(t *testing.T, e *env, name, username, secret string) {
	t.Helper()
	installHelper(t, e, name, "case \"$1\" in\nget) read server; printf '{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\" '"+
		username+"' '"+secret+"' ;;\n*) exit 0 ;;\nesac\n")
}

// installHelper installs docker-credential-<name>, a shell script of body,
// into a directory on the env's PATH.
func installHelper(t *testing.T, e *env, name, body string) {
	t.Helper()
	dir := filepath.Join(e.Dir, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	e.setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func basicAuth(user, password string) map[string]any {
	return map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
}

func TestAuthCredentialSources(t *testing.T) {
	f := startTokenFixture(t)
	reg := f.reg
	ref := reg.Ref("team/seed:v1")
	pw := func(u string) string { return tokenUsers[u].Password }

	// inspect reads ref through the plugin; the token server's log says
	// which account and which grant type it used.
	inspectAs := func(t *testing.T, e *env, wantUser, wantGrant string) {
		t.Helper()
		tm := f.ts.Mark()
		e.mustDocker(t, "--debug", "mlist", "inspect", ref)
		reqs := f.tokenRequests(t, tm, 1)
		if len(reqs) == 1 && (reqs[0].User != wantUser || reqs[0].GrantType != wantGrant) {
			t.Errorf("token request %s, want user %q grant %q", reqs[0], wantUser, wantGrant)
		}
	}

	t.Run("auths", func(t *testing.T) {
		e := newEnv(t)
		e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: basicAuth("carol", pw("carol"))}})
		inspectAs(t, e, "carol", "")
	})
	t.Run("credsStore over auths", func(t *testing.T) {
		e := newEnv(t)
		credHelper(t, e, "mlist-store", "bob", pw("bob"))
		e.writeConfig(t, map[string]any{"credsStore": "mlist-store", "auths": map[string]any{reg.Host: basicAuth("carol", pw("carol"))}})
		inspectAs(t, e, "bob", "")
	})
	t.Run("credHelpers over credsStore", func(t *testing.T) {
		e := newEnv(t)
		credHelper(t, e, "mlist-store", "bob", pw("bob"))
		credHelper(t, e, "mlist-helper", "alice", pw("alice"))
		e.writeConfig(t, map[string]any{
			"credsStore":  "mlist-store",
			"credHelpers": map[string]any{reg.Host: "mlist-helper"},
			"auths":       map[string]any{reg.Host: basicAuth("carol", pw("carol"))},
		})
		inspectAs(t, e, "alice", "")
	})
	t.Run("identity token", func(t *testing.T) {
		e := newEnv(t)
		e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: map[string]any{
			"auth": base64.StdEncoding.EncodeToString([]byte("carol:")), "identitytoken": f.ts.IssueRefreshToken("carol"),
		}}})
		inspectAs(t, e, "carol", "refresh_token")
	})
	t.Run("identity token from a helper", func(t *testing.T) {
		e := newEnv(t)
		credHelper(t, e, "mlist-helper", "<token>", f.ts.IssueRefreshToken("bob"))
		e.writeConfig(t, map[string]any{"credHelpers": map[string]any{reg.Host: "mlist-helper"}})
		inspectAs(t, e, "bob", "refresh_token")
	})
	t.Run("registry token", func(t *testing.T) {
		tok, err := f.ts.IssueToken("carol", []string{"repository:team/seed:pull"}, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t)
		e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: map[string]any{"registrytoken": tok}}})
		tm := f.ts.Mark()
		e.mustDocker(t, "--debug", "mlist", "inspect", ref)
		f.tokenRequests(t, tm, 0) // used as is
	})
	t.Run("DOCKER_AUTH_CONFIG", func(t *testing.T) {
		e := newEnv(t)
		e.writeConfig(t, map[string]any{"auths": map[string]any{reg.Host: basicAuth("carol", "wrong-password")}})
		raw, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: basicAuth("bob", pw("bob"))}})
		e.setenv("DOCKER_AUTH_CONFIG", string(raw))
		inspectAs(t, e, "bob", "")
	})
	t.Run("DOCKER_AUTH_CONFIG over credsStore", func(t *testing.T) {
		e := newEnv(t)
		credHelper(t, e, "mlist-store", "bob", pw("bob"))
		e.writeConfig(t, map[string]any{"credsStore": "mlist-store", "auths": map[string]any{reg.Host: basicAuth("alice", "stale-password")}})
		raw, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: basicAuth("carol", pw("carol"))}})
		e.setenv("DOCKER_AUTH_CONFIG", string(raw))
		inspectAs(t, e, "carol", "")
	})
	t.Run("docker login stores an identity token", func(t *testing.T) {
		requireEngine(t)
		e := fileStoreEnv(t)
		mustSucceed(t, e.dockerStdin(pw("carol"), "login", "-u", "carol", "--password-stdin", reg.Host), "docker login")
		var cfg struct {
			Auths map[string]struct {
				Auth          string `json:"auth"`
				IdentityToken string `json:"identitytoken"`
			} `json:"auths"`
		}
		data, _ := os.ReadFile(e.configPath())
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		a := cfg.Auths[reg.Host]
		if a.IdentityToken == "" {
			t.Skipf("the engine stored no identity token (auths entry %+v); covered by the identity token case", a)
		}
		registerSecret("identity token from docker login", a.IdentityToken)
		inspectAs(t, e, "carol", "refresh_token")
	})
	t.Run("missing credsStore", func(t *testing.T) {
		e := newEnv(t)
		e.writeConfig(t, map[string]any{"credsStore": "mlist-nonexistent"})
		// Against the token registry: one warning, then a clear unauthorized error.
		r := e.mlistFails(t, `team/seed:v1: authentication required or credentials rejected by \S+ \(docker login \S+\)`, "inspect", ref)
		if n := strings.Count(r.Stderr, "mlist-nonexistent"); n != 1 {
			t.Errorf("the missing helper is named %d times, want one warning:\n%s", n, r.Stderr)
		}
		// Against an anonymous registry: it works, and the helper is never
		// looked for since nothing asked for credentials.
		plain := plainRegistry(t)
		img := plain.PushImage(t, testRepo(t, "app"), "v1", "linux/amd64", harness.ImageOptions{})
		res := e.mlist("inspect", plain.Ref(img.Repo+":v1"))
		mustSucceed(t, res, "inspect from an anonymous registry")
		if strings.Contains(res.Stderr, "mlist-nonexistent") {
			t.Errorf("the missing helper is named though the registry asked for no credentials:\n%s", res.Stderr)
		}
	})
}
