package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 19, item 2: one resolver for what inspect, diff and verify read —
// a draft, a registry reference, docker://REF (always the registry), and
// the oci: and oci-archive: layouts copy writes.

func sha256Of(b string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(b))) }

// TestResolveLayouts: inspect, verify and diff read the OCI layout and the
// OCI archive copy wrote, and find the registry's list there, byte for
// byte; verify --deep reads the layout's blobs, and names the one removed.
func TestResolveLayouts(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
	dir := t.TempDir()
	layout, archive := "oci:"+filepath.Join(dir, "layout")+":v1", "oci-archive:"+filepath.Join(dir, "app.tar")+":v1"
	for _, loc := range []string{layout, archive} {
		mustCopy(t, e, reg.Ref(repo+":v1"), loc)
	}
	for _, tc := range []struct{ source, loc string }{{"oci", layout}, {"oci-archive", archive}} {
		t.Run(tc.source, func(t *testing.T) {
			if raw := e.mustMlist(t, "inspect", "--raw", tc.loc); sha256Of(raw) != list.Digest {
				t.Errorf("inspect --raw %s: digest %s, want the registry's %s", tc.loc, sha256Of(raw), list.Digest)
			}
			var view struct {
				Source    string `json:"source"`
				Digest    string `json:"digest"`
				Manifests []struct {
					Platform string `json:"platform"`
					Layers   []any  `json:"layers"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", "-v", "--format", "json", tc.loc)), &view); err != nil {
				t.Fatal(err)
			}
			if view.Source != tc.source || view.Digest != list.Digest || len(view.Manifests) != 2 || view.Manifests[1].Platform != "linux/arm64" || len(view.Manifests[1].Layers) == 0 {
				t.Errorf("inspect -v: %+v, want source %s, digest %s, two entries with their layers", view, tc.source, list.Digest)
			}
			var report struct {
				Source   string `json:"source"`
				Digest   string `json:"digest"`
				Entries  int    `json:"entries"`
				Problems []any  `json:"problems"`
			}
			if err := json.Unmarshal([]byte(e.mustMlist(t, "verify", "--deep", "--format", "json", tc.loc)), &report); err != nil {
				t.Fatal(err)
			}
			if report.Source != tc.source || report.Digest != list.Digest || report.Entries != 2 || len(report.Problems) != 0 {
				t.Errorf("verify --deep: %+v, want source %s, digest %s, 2 entries, no problem", report, tc.source, list.Digest)
			}
			r := e.mlist("diff", tc.loc, reg.Ref(repo+":v1"))
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "--- "+tc.source+" ") || !strings.Contains(r.Stdout, list.Digest) {
				t.Errorf("diff %s with the registry: exit %d, want 0 (equal) naming the %s side\n%s%s", tc.loc, r.ExitCode, tc.source, r.Stdout, r.Stderr)
			}
		})
	}
	t.Run("a layer removed", func(t *testing.T) {
		layer := list.Images[0].Layers[0].Digest
		if err := os.Remove(filepath.Join(dir, "layout", "blobs", "sha256", strings.TrimPrefix(layer, "sha256:"))); err != nil {
			t.Fatal(err)
		}
		r := e.mlist("verify", "--deep", layout)
		if want := "blob " + layer + " not in " + layout; r.ExitCode != 1 || !strings.Contains(r.Stdout, want) {
			t.Errorf("verify --deep: exit %d, want 1 with %q\n%s%s", r.ExitCode, want, r.Stdout, r.Stderr)
		}
	})
}

// TestResolveDraftShadow: with a draft named like a registry tag, plain
// REF is the draft (said on stderr, and in JSON), docker://REF the
// registry, whatever the command.
func TestResolveDraftShadow(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	ref := reg.Ref(repo + ":v1")
	e.mustMlist(t, "create", ref, reg.DigestRef(repo, list.Images[0].Digest))

	r := e.mlist("inspect", "--raw", "docker://"+ref)
	if mustSucceed(t, r, "inspect docker://"); sha256Of(r.Stdout) != list.Digest || strings.Contains(r.Stderr, "draft") {
		t.Errorf("inspect docker://%s: digest %s, want the registry's %s and no note\n%s", ref, sha256Of(r.Stdout), list.Digest, r.Stderr)
	}
	r = e.mlist("inspect", "--raw", ref)
	mustSucceed(t, r, "inspect")
	if sha256Of(r.Stdout) == list.Digest {
		t.Errorf("inspect %s showed the registry's list, want the draft", ref)
	}
	if want := "note: " + ref + " is the local draft; docker://" + ref + " reads the registry\n"; r.Stderr != want {
		t.Errorf("inspect %s: stderr %q, want %q", ref, r.Stderr, want)
	}
	var view struct {
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", "-v", "--format", "json", ref)), &view); err != nil || view.Source != "draft" {
		t.Errorf("inspect -v --format json: source %q (%v), want draft", view.Source, err)
	}
	var report struct {
		Source string `json:"source"`
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "verify", "--format", "json", "docker://"+ref)), &report); err != nil || report.Source != "registry" || report.Digest != list.Digest {
		t.Errorf("verify docker://: %+v (%v), want the registry's %s", report, err, list.Digest)
	}
	// The draft drops arm64: the diff from the registry to the draft says so.
	r = e.mlist("diff", "docker://"+ref, ref)
	if r.ExitCode != 1 || !strings.Contains(r.Stdout, "linux/arm64") || !strings.Contains(r.Stderr, "is the local draft") {
		t.Errorf("diff docker://REF REF: exit %d, want 1 with arm64 removed and the note\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
}

// TestResolveMergeSource: merge reads SOURCE from a registry,
// docker://REF included; a layout as DESTINATION or --target is refused by
// name, before anything is read or written.
func TestResolveMergeSource(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	pushCopySource(t, reg, repo, "src", harness.ImageOptions{}, harness.ListOptions{}, "linux/arm64")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64")
	out := e.mustMlist(t, "merge", "--dry-run", "docker://"+reg.Ref(repo+":src"), reg.Ref(repo+":v1"))
	if !strings.Contains(out, "linux/arm64") || !strings.Contains(out, "linux/amd64") {
		t.Errorf("merge --dry-run docker://SRC: plan without both platforms:\n%s", out)
	}
	mark := reg.Mark()
	e.mlistFails(t, `^merge DESTINATION "oci:[^"]+" is a local OCI layout; merge DESTINATION takes a registry reference \(REF or docker://REF\)\n$`,
		"merge", reg.Ref(repo+":src"), "oci:"+t.TempDir()+":v1")
	e.mlistFails(t, `^--target "oci-archive:[^"]+" is a local oci-archive; --target takes a registry reference \(REF or docker://REF\)\n$`,
		"merge", "--target", "oci-archive:"+t.TempDir()+"/a.tar", reg.Ref(repo+":src"), "docker://"+reg.Ref(repo+":v1"))
	if rs := reg.RequestsSince(mark); len(rs) != 0 {
		t.Errorf("a refused merge made %d requests", len(rs))
	}
}

// TestResolveDestCredsRejected: a wrong --dest-creds password is reported
// as that flag's, not with a docker login hint.
func TestResolveDestCredsRejected(t *testing.T) {
	src, dst := plainRegistry(t), authRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	img := src.PushImage(t, repo, "v1", "linux/amd64", harness.ImageOptions{})
	r := e.mlistFails(t, `rejected the credentials from --dest-creds`, "copy", "--dest-creds", testUser+":wrong-password", src.Ref(img.Repo+":v1"), dst.Ref(repo+":v1"))
	if strings.Contains(r.Stderr, "docker login") || strings.Contains(r.Stderr, "wrong-password") {
		t.Errorf("error suggests docker login or shows the password:\n%s", r.Stderr)
	}
}

// TestResolveCreateFrom: create --from reads REF as inspect does: a draft
// of that name is copied (with the note), docker://REF is the registry's
// list, and a layout is refused by name, as it is as a SOURCE.
func TestResolveCreateFrom(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	ref := reg.Ref(repo + ":v1")
	e.mustMlist(t, "create", ref, reg.DigestRef(repo, list.Images[0].Digest))

	r := e.mlist("create", "--from", ref, reg.Ref(repo+":copy"))
	if mustSucceed(t, r, "create --from a draft"); !strings.Contains(r.Stderr, "is the local draft") {
		t.Errorf("create --from %s: no note that it read the draft\n%s", ref, r.Stderr)
	}
	r = e.mlist("create", "--from", "docker://"+ref, reg.Ref(repo+":registry"))
	if mustSucceed(t, r, "create --from docker://"); strings.Contains(r.Stderr, "draft") {
		t.Errorf("create --from docker://: %s", r.Stderr)
	}
	for tag, want := range map[string]string{"copy": "", "registry": list.Digest} {
		raw := e.mustMlist(t, "inspect", "--raw", reg.Ref(repo+":"+tag))
		if d := sha256Of(raw); (want == "" && d == list.Digest) || (want != "" && d != want) {
			t.Errorf("draft %s: digest %s, registry's %s: want the draft %s to hold what it was made from", tag, d, list.Digest, tag)
		}
	}
	layout := "oci:" + t.TempDir() + ":v1"
	e.mlistFails(t, `^--from `+regexp.QuoteMeta(layout)+` is a local layout; .*--from takes a draft name, REF or docker://REF`, "create", "--from", layout, reg.Ref(repo+":x"))
	e.mlistFails(t, `^create SOURCE "`+regexp.QuoteMeta(layout)+`" is a local OCI layout; create SOURCE takes a registry reference \(REF or docker://REF\)\n$`, "create", reg.Ref(repo+":y"), layout)
}

// TestResolveDockerArchive: inspect reads a docker save archive as the
// single image it holds, its platform from its config.
func TestResolveDockerArchive(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(t.TempDir(), "saved.tar")
	saved, err := harness.WriteDockerSave(file, "mlist-e2e/saved:1", "linux/arm64", 2)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Source    string `json:"source"`
		Manifests []struct {
			Platform     string `json:"platform"`
			ConfigDigest string `json:"configDigest"`
			Layers       []any  `json:"layers"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", "-v", "--format", "json", "docker-archive:"+file)), &view); err != nil {
		t.Fatal(err)
	}
	if view.Source != "docker-archive" || len(view.Manifests) != 1 || view.Manifests[0].Platform != "linux/arm64" ||
		view.Manifests[0].ConfigDigest != saved.Config || len(view.Manifests[0].Layers) != 2 {
		t.Errorf("inspect -v docker-archive: %+v, want one linux/arm64 image with config %s and 2 layers", view, saved.Config)
	}
	if out := e.mustMlist(t, "inspect", "--format", "table", "docker-archive:"+file); !strings.Contains(out, "\nlinux/arm64 ") {
		t.Errorf("inspect table of a single image shows no platform:\n%s", out)
	}
}
