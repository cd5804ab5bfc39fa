package e2e

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/tokenserver"
)

// Issue 8, token auth with a different account on each side of one
// registry: scopes declared up front (push --spec), mounts refused because
// the destination's account cannot read the source (merge and copy with
// --src-creds/--dest-creds fall back to streaming through the source's
// session), and a read-only account's refusal.

// sideUsers: src-reader reads src/*; dst-writer writes dst/* and cannot
// read src/*; builder reads src/* and writes dst/*; viewer reads all;
// admin seeds and checks.
var sideUsers = map[string]tokenserver.User{
	"src-reader": {Password: "src-reader-pw-5e1a", Grants: []tokenserver.Grant{{Pattern: "src/*", Actions: []string{"pull"}}}},
	"dst-writer": {Password: "dst-writer-pw-92c4", Grants: []tokenserver.Grant{{Pattern: "dst/*", Actions: []string{"pull", "push"}}}},
	"builder":    {Password: "builder-pw-0b7d", Grants: []tokenserver.Grant{{Pattern: "src/*", Actions: []string{"pull"}}, {Pattern: "dst/*", Actions: []string{"pull", "push"}}}},
	"viewer":     {Password: "viewer-pw-c3f8", Grants: []tokenserver.Grant{{Pattern: "*", Actions: []string{"pull"}}}},
	"admin":      {Password: "sides-admin-pw-61e0", Grants: []tokenserver.Grant{{Pattern: "*", Actions: []string{"pull", "push", "delete"}}}},
}

// sidesFixture is a token registry seeded with src/app:amd64, src/app:arm64,
// the list src/seed:v1 of both, and dst/base:v1, a list of src/tools:armv7.
type sidesFixture struct {
	ts             *tokenserver.Server
	reg            *authReg
	admin          *harness.Client
	amd, arm, arm7 harness.Image
	seed           harness.List
}

func startSidesFixture(t *testing.T) *sidesFixture {
	t.Helper()
	for u, acc := range sideUsers {
		registerLogin(u, acc.Password)
	}
	ts, err := tokenserver.Start(t.TempDir(), sideUsers)
	if err != nil {
		t.Fatal(err)
	}
	ts.OnIssue = func(s string) { registerSecret("token-server token", s) }
	t.Cleanup(func() { _ = ts.Close() })
	f := &sidesFixture{ts: ts, reg: startAuthRegistry(t, authRegistryOptions{Token: ts})}
	f.admin = f.reg.Client("admin", sideUsers["admin"].Password)
	must := func(img harness.Image, err error) harness.Image {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
		return img
	}
	f.amd = must(f.admin.PushImage("src/app", "amd64", "linux/amd64", harness.ImageOptions{Layers: 2}))
	f.arm = must(f.admin.PushImage("src/app", "arm64", "linux/arm64", harness.ImageOptions{Layers: 2}))
	f.arm7 = must(f.admin.PushImage("src/tools", "armv7", "linux/arm/v7", harness.ImageOptions{}))
	if f.seed, err = f.admin.PushList("src/seed", "v1", []harness.Image{f.amd, f.arm}, harness.ListOptions{}); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	if _, err := f.admin.PushList("dst/base", "v1", []harness.Image{f.arm7}, harness.ListOptions{}); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	return f
}

func (f *sidesFixture) creds(user string) string { return user + ":" + sideUsers[user].Password }

// holds checks, as admin, that repo serves each image's manifest and blobs.
func (f *sidesFixture) holds(t *testing.T, repo string, imgs ...harness.Image) {
	t.Helper()
	for _, img := range imgs {
		m, err := f.admin.GetManifest(repo, img.Digest)
		if err != nil || m.Status != http.StatusOK || string(m.Raw) != string(img.Raw) {
			t.Errorf("%s@%s: status %d (%v), or other bytes", repo, img.Digest, m.Status, err)
			continue
		}
		for _, d := range append([]harness.Descriptor{img.Config}, img.Layers...) {
			if data, err := f.admin.GetBlob(repo, d.Digest); err != nil || harness.Digest(data) != d.Digest {
				t.Errorf("%s: blob %s of %s missing (%v)", repo, d.Digest, img.Digest, err)
			}
		}
	}
}

// noDeleteScope checks that no token asked for since mark carried the
// delete action (Quay refuses such tokens; nothing here deletes).
func (f *sidesFixture) noDeleteScope(t *testing.T, mark int) {
	t.Helper()
	for _, r := range f.ts.RequestsSince(mark) {
		for _, s := range r.Scopes {
			if strings.Contains(s, "delete") {
				t.Errorf("token request asked for delete: %s", r)
			}
		}
	}
}

// entries returns the digests of repo:tag's entries by platform, as admin.
func (f *sidesFixture) entries(t *testing.T, repo, tag string) (string, map[string]string) {
	t.Helper()
	m, err := f.admin.GetManifest(repo, tag)
	if err != nil || m.Status != http.StatusOK {
		t.Fatalf("%s:%s: status %d (%v)", repo, tag, m.Status, err)
	}
	ix, err := m.Index()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range ix.Manifests {
		out[d.Platform.String()] = d.Digest
	}
	return m.Digest, out
}

func TestAuthSides(t *testing.T) {
	f := startSidesFixture(t)
	reg := f.reg

	// Issue 8: the client was made before the push scope was declared, and
	// an insufficient_scope answer to a request sent with the older token
	// was taken as final ("not granted pull access").
	t.Run("push --spec with sources on the same token registry", func(t *testing.T) {
		e := fileStoreEnv(t)
		e.login(t, reg.Host, "builder", sideUsers["builder"].Password)
		spec := "image: " + reg.Ref("dst/spec:v1") + "\ntags: [latest]\nmanifests:\n" +
			"  - image: " + reg.Ref("src/app:amd64") + "\n    platform: {architecture: amd64, os: linux}\n" +
			"  - image: " + reg.Ref("src/app:arm64") + "\n    platform: {architecture: arm64, os: linux, variant: v8}\n"
		file := filepath.Join(e.Dir, "spec.yaml")
		if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		d := digestOut(t, e.mustMlist(t, "push", "--spec", file))
		got, ents := f.entries(t, "dst/spec", "v1")
		if got != d {
			t.Errorf("dst/spec:v1 is %s, push printed %s", got, d)
		}
		if want := map[string]string{"linux/amd64": f.amd.Digest, "linux/arm64/v8": f.arm.Digest}; !maps.Equal(ents, want) {
			t.Errorf("entries %v, want %v", ents, want)
		}
		if latest, _ := f.entries(t, "dst/spec", "latest"); latest != d {
			t.Errorf("dst/spec:latest is %s, want %s", latest, d)
		}
		f.holds(t, "dst/spec", f.amd, f.arm)
	})

	// dst-writer cannot read src/*: the registry refuses the mount, and the
	// blobs must come through src-reader's session instead.
	t.Run("merge with a destination account that cannot read the source", func(t *testing.T) {
		e := newEnv(t) // no stored credentials: the flags are all there is
		rm, tm := reg.Mark(), f.ts.Mark()
		e.mustMlist(t, "merge", "--src-creds", f.creds("src-reader"), "--dest-creds", f.creds("dst-writer"),
			reg.Ref("src/seed:v1"), reg.Ref("dst/base:v1"))
		_, ents := f.entries(t, "dst/base", "v1")
		if want := map[string]string{"linux/amd64": f.amd.Digest, "linux/arm64": f.arm.Digest, "linux/arm/v7": f.arm7.Digest}; !maps.Equal(ents, want) {
			t.Errorf("merged entries %v, want %v", ents, want)
		}
		f.holds(t, "dst/base", f.amd, f.arm, f.arm7)
		f.noDeleteScope(t, tm)
		// The source was only read.
		if w := writes(reg.RequestsSince(rm).Filter(func(r harness.Request) bool { return strings.HasPrefix(r.Repo(), "src/") })); len(w) > 0 {
			t.Errorf("the merge wrote to the source:\n%s", w)
		}
	})

	t.Run("copy with a destination account that cannot read the source", func(t *testing.T) {
		e := newEnv(t)
		tm := f.ts.Mark()
		r := e.run("", "docker", "--debug", "mlist", "copy", "--src-creds", f.creds("src-reader"), "--dest-creds", f.creds("dst-writer"),
			reg.Ref("src/seed:v1"), reg.Ref("dst/copied:v1"))
		if d := digestOut(t, mustSucceed(t, r, "copy")); d != f.seed.Digest {
			t.Errorf("copy printed %s, want %s", d, f.seed.Digest)
		}
		// --debug says that the refused mounts were streamed instead.
		if !regexp.MustCompile(`(?i)mount.*stream|stream.*mount|streaming`).MatchString(r.Stderr) {
			t.Errorf("--debug does not mention the fallback to streaming:\n%s", r.Stderr)
		}
		if m, err := f.admin.GetManifest("dst/copied", "v1"); err != nil || m.Digest != f.seed.Digest || string(m.Raw) != string(f.seed.Raw) {
			t.Errorf("dst/copied:v1: status %d digest %s (%v), want %s", m.Status, m.Digest, err, f.seed.Digest)
		}
		f.holds(t, "dst/copied", f.amd, f.arm)
		f.noDeleteScope(t, tm)
	})

	// A read-only account: one line naming the repository and push,
	// non-zero exit, nothing written.
	refused := func(t *testing.T, r result, repo string, rm int) {
		t.Helper()
		if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
			t.Errorf("want a one-line error, got:\n%s", r.Stderr)
		}
		if !strings.Contains(r.Stderr, reg.Ref(repo)) || !regexp.MustCompile(`\bpush\b`).MatchString(r.Stderr) {
			t.Errorf("the error names neither %s nor push:\n%s", reg.Ref(repo), r.Stderr)
		}
		if w := writes(reg.RequestsSince(rm)).Filter(func(q harness.Request) bool { return q.Status < 300 }); len(w) > 0 {
			t.Errorf("a refused command wrote:\n%s", w)
		}
	}
	noTags := func(t *testing.T, repo string) {
		t.Helper()
		if tags, err := f.admin.Tags(repo); err != nil || len(tags) > 0 {
			t.Errorf("%s has tags %v (%v) after a refused command", repo, tags, err)
		}
	}
	t.Run("read-only push", func(t *testing.T) {
		e := fileStoreEnv(t)
		e.login(t, reg.Host, "viewer", sideUsers["viewer"].Password)
		list := reg.Ref("dst/ro:v1")
		e.mustMlist(t, "create", list, reg.Ref("src/app:amd64"), reg.Ref("src/app:arm64"))
		rm := reg.Mark()
		refused(t, e.mlistFails(t, `denied`, "push", list), "dst/ro", rm)
		noTags(t, "dst/ro")
		// The draft is kept for another try.
		e.mustMlist(t, "inspect", list)
	})
	t.Run("read-only merge", func(t *testing.T) {
		if _, err := f.admin.PushList("dst/ro-merge", "v1", []harness.Image{f.arm7}, harness.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		before, _ := f.entries(t, "dst/ro-merge", "v1")
		e := newEnv(t)
		rm := reg.Mark()
		refused(t, e.mlistFails(t, `denied`, "merge", "--src-creds", f.creds("viewer"), "--dest-creds", f.creds("viewer"),
			reg.Ref("src/seed:v1"), reg.Ref("dst/ro-merge:v1")), "dst/ro-merge", rm)
		if after, _ := f.entries(t, "dst/ro-merge", "v1"); after != before {
			t.Errorf("dst/ro-merge:v1 changed from %s to %s", before, after)
		}
	})
	t.Run("read-only copy", func(t *testing.T) {
		e := fileStoreEnv(t)
		e.login(t, reg.Host, "viewer", sideUsers["viewer"].Password)
		rm := reg.Mark()
		refused(t, e.mlistFails(t, `denied`, "copy", reg.Ref("src/seed:v1"), reg.Ref("dst/ro-copy:v1")), "dst/ro-copy", rm)
		noTags(t, "dst/ro-copy")
	})
}
