package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 19, item 2, for what copy and merge read: a draft is copied as its
// list with every entry, into a registry or a layout; merge takes SOURCE
// from a layout.

// draftOf creates the draft name (a registry tag of reg's repo) of the
// images of the given platforms, pushed to another repository, and returns
// the digest the draft's list has (inspect --raw).
func draftOf(t *testing.T, e *env, reg *harness.Registry, name string, platforms ...string) (string, []harness.Image) {
	t.Helper()
	from := testRepo(t, "parts")
	imgs := reg.PushImages(t, from, "img", harness.ImageOptions{}, platforms...)
	args := []string{"create", name}
	for _, img := range imgs {
		args = append(args, reg.DigestRef(from, img.Digest))
	}
	e.mustMlist(t, args...)
	return sha256Of(e.mustMlist(t, "inspect", "--raw", name)), imgs
}

// TestReadersCopyDraftToRegistry: copy DRAFT REF writes the draft's list,
// byte for byte, with every entry brought from the repository it names,
// into another registry; the engine pulls it.
func TestReadersCopyDraftToRegistry(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	name := src.Ref(testRepo(t, "draft") + ":v1")
	want, imgs := draftOf(t, e, src, name, "linux/amd64", "linux/arm64")
	repo := testRepo(t, "app")
	var plan struct {
		Requests int `json:"requests"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "copy", "--dry-run", "--format", "json", name, dst.Ref(repo+":v1"))), &plan); err != nil {
		t.Fatal(err)
	}
	srcMark, dstMark := src.Mark(), dst.Mark()
	if got := mustCopy(t, e, name, dst.Ref(repo+":v1")); got != want {
		t.Fatalf("copy DRAFT printed %s, want the draft's %s", got, want)
	}
	if n := len(src.RequestsSince(srcMark)) + len(dst.RequestsSince(dstMark)); n != plan.Requests {
		t.Errorf("copy DRAFT made %d requests, its dry run said %d", n, plan.Requests)
	} else {
		t.Logf("copy of a 2-entry draft across registries: %d requests", n)
	}
	m, err := dst.Client().GetManifest(repo, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != want {
		t.Errorf("destination holds %s, want the draft's %s", m.Digest, want)
	}
	for _, img := range imgs {
		if _, err := dst.Client().HeadManifest(repo, img.Digest); err != nil {
			t.Errorf("entry %s (%s) not in the destination: %v", img.Digest, img.Platform, err)
		}
	}
	harness.Validate(t, dst.Ref(repo+":v1"))
	checkEnginePulls(t, e, dst, repo, "v1")
}

// TestReadersCopyDraftToLayout: copy DRAFT oci:DIR writes the draft's list
// and every entry into the layout, which inspect then reads as the same
// digest; --platform keeps one entry, as for a registry source.
func TestReadersCopyDraftToLayout(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	name := reg.Ref(testRepo(t, "draft") + ":v1")
	want, _ := draftOf(t, e, reg, name, "linux/amd64", "linux/arm64")
	dir := t.TempDir()
	layout := "oci:" + filepath.Join(dir, "layout") + ":v1"
	if got := mustCopy(t, e, name, layout); got != want {
		t.Fatalf("copy DRAFT %s printed %s, want the draft's %s", layout, got, want)
	}
	if raw := e.mustMlist(t, "inspect", "--raw", layout); sha256Of(raw) != want {
		t.Errorf("inspect %s: digest %s, want the draft's %s", layout, sha256Of(raw), want)
	}
	harness.Validate(t, layout)
	slim := "oci:" + filepath.Join(dir, "slim") + ":v1"
	mustCopy(t, e, "--platform", "linux/arm64", name, slim)
	var view struct {
		Manifests []struct {
			Platform string `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", "-v", "--format", "json", slim)), &view); err != nil {
		t.Fatal(err)
	}
	if len(view.Manifests) != 1 || view.Manifests[0].Platform != "linux/arm64" {
		t.Errorf("copy --platform linux/arm64 DRAFT: layout holds %+v, want linux/arm64 alone", view.Manifests)
	}
	harness.Validate(t, slim)
}

// TestReadersCopyDraftShadow: a draft named like a registry tag is what
// copy reads (said on stderr and in the JSON plan); docker://NAME copies
// the registry's list.
func TestReadersCopyDraftShadow(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	name := reg.Ref(repo + ":v1")
	e.mustMlist(t, "create", name, reg.DigestRef(repo, list.Images[0].Digest))
	draft := sha256Of(e.mustMlist(t, "inspect", "--raw", name))

	r := e.mlist("copy", name, reg.Ref(repo+":from-draft"))
	if got := strings.TrimSpace(mustSucceed(t, r, "copy DRAFT")); got != draft {
		t.Errorf("copy %s printed %s, want the draft's %s", name, got, draft)
	}
	if note := "note: " + name + " is the local draft; docker://" + name + " reads the registry\n"; !strings.HasPrefix(r.Stderr, note) {
		t.Errorf("copy %s: stderr %q, want it to start with %q", name, r.Stderr, note)
	}
	var plan struct {
		Draft  bool   `json:"draft"`
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "copy", "--dry-run", "--format", "json", name, reg.Ref(repo+":x"))), &plan); err != nil || !plan.Draft || plan.Digest != draft {
		t.Errorf("copy --dry-run --format json: %+v (%v), want draft true and digest %s", plan, err, draft)
	}
	r = e.mlist("copy", "docker://"+name, reg.Ref(repo+":from-registry"))
	if got := strings.TrimSpace(mustSucceed(t, r, "copy docker://")); got != list.Digest || strings.Contains(r.Stderr, "local draft") {
		t.Errorf("copy docker://%s printed %s, want the registry's %s and no note\n%s", name, got, list.Digest, r.Stderr)
	}
}

// TestReadersMergeLayout: merge takes SOURCE from an OCI layout: the
// result holds the layout's platform beside DESTINATION's, and the
// layout's image, blobs included, is brought into the registry.
func TestReadersMergeLayout(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo, other := testRepo(t, "app"), testRepo(t, "other")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	// In another repository: the layout's image is not in app's.
	rc := pushCopySource(t, reg, other, "rc", harness.ImageOptions{}, harness.ListOptions{}, "linux/riscv64")
	layout := "oci:" + filepath.Join(t.TempDir(), "layout") + ":rc"
	mustCopy(t, e, reg.Ref(other+":rc"), layout)

	var plan struct {
		Source   string `json:"source"`
		Requests int    `json:"requests"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "merge", "--dry-run", "--format", "json", layout, reg.Ref(repo+":v1"))), &plan); err != nil {
		t.Fatal(err)
	}
	mark := reg.Mark()
	digest := strings.TrimSpace(e.mustMlist(t, "merge", layout, reg.Ref(repo+":v1")))
	if n := len(reg.RequestsSince(mark)); n != plan.Requests {
		t.Errorf("merge made %d requests, its dry run said %d", n, plan.Requests)
	}
	m, ix := reg.MustGetIndex(t, repo, "v1")
	if m.Digest != digest {
		t.Errorf("merge printed %s, the registry holds %s", digest, m.Digest)
	}
	wantPlatforms(t, "the merged list", ix, "linux/amd64", "linux/arm64", "linux/riscv64")
	if ws := writes(reg.RequestsSince(mark)).Filter(func(r harness.Request) bool { return strings.Contains(r.Path, "/blobs/") }); len(ws) == 0 {
		t.Errorf("merge wrote no blob: the layout's image was not brought into %s", repo)
	}
	d, _ := ix.ForPlatform("linux/riscv64")
	if d.Digest != rc.Images[0].Digest {
		t.Errorf("linux/riscv64 is %s, want the layout's %s", d.Digest, rc.Images[0].Digest)
	}
	harness.Validate(t, reg.Ref(repo+":v1"))
}

// TestReadersMergeDraft: merge takes SOURCE from a draft (said on
// stderr): its entries are brought from the repositories they name.
func TestReadersMergeDraft(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64")
	name := reg.Ref(testRepo(t, "draft") + ":v1")
	_, imgs := draftOf(t, e, reg, name, "linux/s390x")
	var plan struct {
		Draft bool `json:"draft"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "merge", "--dry-run", "--format", "json", name, reg.Ref(repo+":v1"))), &plan); err != nil || !plan.Draft {
		t.Errorf("merge --dry-run --format json DRAFT: draft %v (%v), want true", plan.Draft, err)
	}
	r := e.mlist("merge", name, reg.Ref(repo+":v1"))
	mustSucceed(t, r, "merge DRAFT")
	if !strings.Contains(r.Stderr, "note: "+name+" is the local draft") {
		t.Errorf("merge DRAFT: no note that it read the draft\n%s", r.Stderr)
	}
	_, ix := reg.MustGetIndex(t, repo, "v1")
	wantPlatforms(t, "the merged list", ix, "linux/amd64", "linux/s390x")
	if d, _ := ix.ForPlatform("linux/s390x"); d.Digest != imgs[0].Digest {
		t.Errorf("linux/s390x is %s, want the draft's %s", d.Digest, imgs[0].Digest)
	}
	harness.Validate(t, reg.Ref(repo+":v1"))
}

// TestReadersMergeDockerArchive: merge takes SOURCE from a docker save
// archive, the single image it holds: its layers reach the registry
// compressed, as the manifest written for them says (Validate checks each
// layer against its diff ID).
func TestReadersMergeDockerArchive(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64")
	file := filepath.Join(t.TempDir(), "saved.tar")
	if _, err := harness.WriteDockerSave(file, "mlist-e2e/saved:1", "linux/arm64", 2); err != nil {
		t.Fatal(err)
	}
	e.mustMlist(t, "merge", "docker-archive:"+file, reg.Ref(repo+":v1"))
	_, ix := reg.MustGetIndex(t, repo, "v1")
	wantPlatforms(t, "the merged list", ix, "linux/amd64", "linux/arm64")
	harness.Validate(t, reg.Ref(repo+":v1"))
}
