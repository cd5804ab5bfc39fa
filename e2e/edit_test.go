package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// diffJSON is the part of `docker mlist diff --format json` the tests read.
type diffJSON struct {
	Old, New struct {
		Name   string `json:"name"`
		Kind   string `json:"kind"`
		Digest string `json:"digest"`
		Exists bool   `json:"exists"`
	}
	Equal     bool `json:"equal"`
	Platforms []struct {
		Platform string `json:"platform"`
		Action   string `json:"action"`
		Old      string `json:"old"`
		New      string `json:"new"`
	} `json:"platforms"`
}

// rows is "platform action" per row, in order.
func (d diffJSON) rows() []string {
	var out []string
	for _, p := range d.Platforms {
		out = append(out, p.Platform+" "+p.Action)
	}
	return out
}

func parseDiff(t *testing.T, r result) diffJSON {
	t.Helper()
	var d diffJSON
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("diff --format json printed %q: %v", r.Stdout, err)
	}
	return d
}

// Issue 11: start a draft from an attested list in the registry, drop a
// platform, see the difference, push it, and verify what the registry holds.
func TestEditExistingList(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64", "linux/arm/v7")
	list := reg.PushList(t, repo, "1.0", imgs, harness.ListOptions{OCI: true, Attestations: true,
		Annotations: map[string]string{"org.opencontainers.image.version": "1.0"}})
	ref := reg.Ref(repo + ":1.0")

	// Pushed unchanged to another tag, a draft from --from writes the
	// same bytes (the harness indents its lists; no serialiser of ours does).
	copyRef := reg.Ref(repo + ":copy")
	e.mustMlist(t, "create", "--from", ref, copyRef)
	if got := mustPush(t, e, "--purge", copyRef); got != list.Digest {
		t.Fatalf("unchanged draft pushed as %s, want the origin's %s", got, list.Digest)
	}

	out := e.mustMlist(t, "create", "--from", ref)
	if !strings.Contains(out, "(6 entries)") {
		t.Errorf("create --from printed %q, want 6 entries (3 images, 3 attestations)", out)
	}
	ix := inspectDraft(t, e, ref)
	if got := ix.Platforms(); !slices.Equal(got, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}) || len(ix.Attestations()) != 3 ||
		ix.MediaType != harness.MediaTypeOCIIndex || ix.Annotations["org.opencontainers.image.version"] != "1.0" {
		t.Fatalf("draft from %s: %+v", ref, ix)
	}
	if raw := e.mustMlist(t, "inspect", "--raw", ref); harness.Digest([]byte(raw)) != list.Digest {
		t.Errorf("inspect --raw of the unchanged draft is not the origin's bytes:\n%s", raw)
	}
	// Nothing changed yet: the draft equals its tag.
	if r := e.mlist("diff", ref); r.ExitCode != 0 {
		t.Fatalf("diff of an unchanged draft: exit %d, want 0", r.ExitCode)
	}

	e.mustMlist(t, "drop", ref, "linux/arm64")
	r := e.mlist("diff", "--format", "json", ref)
	if r.ExitCode != 1 {
		t.Fatalf("diff after drop: exit %d, want 1", r.ExitCode)
	}
	d := parseDiff(t, r)
	want := []string{"linux/amd64 same", "linux/arm64 removed", "linux/arm/v7 same",
		"attestation of linux/amd64 same", "attestation of linux/arm64 removed", "attestation of linux/arm/v7 same"}
	if got := d.rows(); !slices.Equal(got, want) {
		t.Errorf("diff rows\n%q\nwant\n%q", got, want)
	}
	if d.Old.Kind != "registry" || d.Old.Digest != list.Digest || d.New.Kind != "draft" || d.Equal {
		t.Errorf("diff sides %+v", d)
	}
	if d.Platforms[1].Old != imgs[1].Digest || d.Platforms[4].Old != list.Attestations[1].Digest {
		t.Errorf("removed rows name %s and %s, want the arm64 image %s and its attestation %s",
			d.Platforms[1].Old, d.Platforms[4].Old, imgs[1].Digest, list.Attestations[1].Digest)
	}
	// The table says the same.
	table := e.mlist("diff", ref)
	if table.ExitCode != 1 || !regexpMatch(`(?m)^linux/arm64 +removed +`+imgs[1].Digest+`$`, table.Stdout) {
		t.Errorf("diff table (exit %d):\n%s", table.ExitCode, table.Stdout)
	}

	pushed := mustPush(t, e, "--purge", ref)
	m, got := reg.MustGetIndex(t, repo, "1.0")
	if m.Digest != pushed || !slices.Equal(got.Platforms(), []string{"linux/amd64", "linux/arm/v7"}) || len(got.Attestations()) != 2 {
		t.Fatalf("registry holds %s %+v", m.Digest, got)
	}
	for _, a := range got.Attestations() {
		if a.Annotations[harness.AnnotationReferenceDigest] == imgs[1].Digest {
			t.Errorf("the arm64 attestation is still listed")
		}
	}
	if got.Annotations["org.opencontainers.image.version"] != "1.0" {
		t.Errorf("index annotations lost: %v", got.Annotations)
	}

	// The pushed list verifies: no orphan, nothing missing.
	if r := e.mlist("verify", "--deep", ref); r.ExitCode != 0 || r.Stdout != "" {
		t.Errorf("verify: exit %d, stdout %q", r.ExitCode, r.Stdout)
	}
	// A list against itself is equal; the list before the edit is not.
	if r := e.mlist("diff", ref, ref); r.ExitCode != 0 {
		t.Errorf("diff of a list against itself: exit %d", r.ExitCode)
	}
	old := reg.DigestRef(repo, list.Digest)
	r = e.mlist("diff", "--format", "json", old, ref)
	if r.ExitCode != 1 {
		t.Fatalf("diff old new: exit %d, want 1", r.ExitCode)
	}
	if rows := parseDiff(t, r).rows(); !slices.Contains(rows, "linux/arm64 removed") {
		t.Errorf("diff old new rows %q", rows)
	}
	// Errors exit 2, through the real docker CLI.
	if r := e.mlist("diff", reg.Ref(repo+":nosuch"), ref); r.ExitCode != 2 {
		t.Errorf("diff of a missing list: exit %d, want 2", r.ExitCode)
	}
	if r := e.mlist("diff", "--format", "yaml", ref, ref); r.ExitCode != 2 || !strings.Contains(r.Stderr, `invalid --format "yaml"`) {
		t.Errorf("diff --format yaml: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
	if r := e.mlist("diff", "--nosuch", ref); r.ExitCode != 2 {
		t.Errorf("diff --nosuch: exit %d, want 2", r.ExitCode)
	}
	if r := e.mlist("verify", reg.Ref(repo+":nosuch")); r.ExitCode != 2 {
		t.Errorf("verify of a missing list: exit %d, want 2", r.ExitCode)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// Dropping refuses what would leave no image, and a name that matches
// nothing, and changes nothing then.
func TestDropRefusals(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	list := reg.Ref(repo + ":1")
	e.mustMlist(t, "create", list, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
	before := draftFiles(t, e)
	e.mlistFails(t, `would leave no image`, "drop", list, "linux/amd64", "linux/arm64")
	e.mlistFails(t, `no entry of .* matches "linux/s390x"`, "drop", list, "linux/amd64", "linux/s390x")
	assertDraftsUnchanged(t, e, before)
	out := e.mustMlist(t, "drop", list, srcRef(reg, imgs[1]))
	if !strings.Contains(out, "linux/arm64") {
		t.Errorf("drop printed %q", out)
	}
	if ix := inspectDraft(t, e, list); !slices.Equal(ix.Platforms(), []string{"linux/amd64"}) {
		t.Errorf("draft after drop: %v", ix.Platforms())
	}
	got, _ := complete(t, e, "drop", list, "")
	if !slices.Equal(got, []string{srcRef(reg, imgs[0]) + "\tlinux/amd64"}) {
		t.Errorf("drop completes %q", got)
	}
}

// deleteBlob removes a blob link from repo with a raw registry request.
func deleteBlob(t *testing.T, reg *harness.Registry, repo, digest string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, reg.URL+"/v2/"+repo+"/blobs/"+digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE blob %s: %s", digest, resp.Status)
	}
}

// putIndex writes an OCI index of descs as repo:tag with a raw request.
func putIndex(t *testing.T, reg *harness.Registry, repo, tag string, descs ...harness.Descriptor) string {
	t.Helper()
	raw, err := json.Marshal(harness.Index{SchemaVersion: 2, MediaType: harness.MediaTypeOCIIndex, Manifests: descs})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.Client().PutManifest(repo, tag, harness.MediaTypeOCIIndex, raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// verify catches each problem on lists built wrong on purpose.
func TestVerifyProblems(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	opts := harness.ImageOptions{OCI: true, Layers: 2}
	imgs := reg.PushImages(t, repo, "img", opts, "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "linux/ppc64le", "linux/riscv64")
	amd, arm, armv7, s390x, ppc, riscv := imgs[0], imgs[1], imgs[2], imgs[3], imgs[4], imgs[5]
	attested := reg.PushList(t, repo, "attested", []harness.Image{amd, arm}, harness.ListOptions{OCI: true, Attestations: true})

	mislabelled := arm.Descriptor()
	mislabelled.Platform = &harness.Platform{OS: "linux", Architecture: "amd64"}
	arm2 := reg.PushImage(t, repo, "arm2", "linux/arm64", opts)
	wrongSize := armv7.Descriptor()
	wrongSize.Size += 3
	orphan := attested.Attestations[1] // attests arm, left out below
	orphanDesc := harness.Descriptor{MediaType: orphan.MediaType, Digest: orphan.Digest, Size: int64(len(orphan.Raw)),
		Platform:    &harness.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{harness.AnnotationReferenceType: harness.AttestationManifest, harness.AnnotationReferenceDigest: arm.Digest}}

	// A missing entry: listed, then deleted. A missing config, and a
	// missing layer (only --deep looks for layers): their links removed.
	putIndex(t, reg, repo, "missing-entry", amd.Descriptor(), s390x.Descriptor())
	if status, err := reg.Client().DeleteManifest(repo, s390x.Digest); err != nil || status != http.StatusAccepted {
		t.Fatalf("delete %s: %d %v", s390x.Digest, status, err)
	}
	putIndex(t, reg, repo, "missing-config", amd.Descriptor(), ppc.Descriptor())
	deleteBlob(t, reg, repo, ppc.Config.Digest)
	putIndex(t, reg, repo, "missing-layer", amd.Descriptor(), riscv.Descriptor())
	deleteBlob(t, reg, repo, riscv.Layers[1].Digest)

	for name, tc := range map[string]struct {
		tag   string
		descs []harness.Descriptor
		deep  bool
		want  string // a regexp one line of stdout must match
	}{
		"mislabelled platform": {tag: "mislabelled", descs: []harness.Descriptor{armv7.Descriptor(), mislabelled},
			want: `^entry linux/amd64 \(` + arm.Digest + `\): the list says linux/amd64, the image config says linux/arm64$`},
		"duplicate platform": {tag: "duplicate", descs: []harness.Descriptor{arm.Descriptor(), arm2.Descriptor()},
			want: `^platform linux/arm64: entries ` + arm.Digest + ` and ` + arm2.Digest + ` both have it$`},
		"orphan attestation": {tag: "orphan", descs: []harness.Descriptor{amd.Descriptor(), orphanDesc},
			want: `^attestation ` + orphan.Digest + ` describes ` + arm.Digest + `, which the list does not hold$`},
		"size mismatch": {tag: "size", descs: []harness.Descriptor{amd.Descriptor(), wrongSize},
			want: `^entry linux/arm/v7 \(` + armv7.Digest + `\): the descriptor says \d+ bytes, the manifest has \d+$`},
		"missing entry":  {tag: "missing-entry", want: `^entry linux/s390x \(` + s390x.Digest + `\): manifest not in ` + reg.Host + `/` + repo + `$`},
		"missing config": {tag: "missing-config", want: `^entry linux/ppc64le \(` + ppc.Digest + `\): config ` + ppc.Config.Digest + ` not in `},
		"missing layer":  {tag: "missing-layer", deep: true, want: `^entry linux/riscv64 \(` + riscv.Digest + `\): blob ` + riscv.Layers[1].Digest + ` not in `},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.descs != nil {
				putIndex(t, reg, repo, tc.tag, tc.descs...)
			}
			args := []string{"verify", reg.Ref(repo + ":" + tc.tag)}
			if tc.deep {
				args = append(args, "--deep")
			}
			r := e.mlist(args...)
			if r.ExitCode != 1 {
				t.Fatalf("verify: exit %d, want 1", r.ExitCode)
			}
			lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
			if len(lines) != 1 || !regexpMatch(tc.want, lines[0]) {
				t.Errorf("verify printed\n%s\nwant one line matching %s", r.Stdout, tc.want)
			}
			// JSON for CI gates.
			r = e.mlist(append(args, "--format", "json")...)
			var rep struct {
				Problems []struct{ Kind, Message string }
			}
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || r.ExitCode != 1 || len(rep.Problems) != 1 || rep.Problems[0].Message != lines[0] {
				t.Errorf("verify --format json: exit %d, %v\n%s", r.ExitCode, err, r.Stdout)
			}
		})
	}
	// A missing layer is not a problem without --deep.
	if r := e.mlist("verify", reg.Ref(repo+":missing-layer")); r.ExitCode != 0 {
		t.Errorf("verify without --deep: exit %d\n%s", r.ExitCode, r.Stdout)
	}
}

// push --dry-run reads and plans; the registries' logs show no write.
func TestPushDryRun(t *testing.T) {
	reg := plainRegistry(t)
	other := copyDestRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	local := reg.PushImage(t, repo+"-src", "amd64", "linux/amd64", harness.ImageOptions{Layers: 2})
	remote := other.PushImage(t, repo+"-remote", "arm64", "linux/arm64", harness.ImageOptions{Layers: 1, LayerSize: 1000})
	list := reg.Ref(repo + ":1.0")
	e.mustMlist(t, "create", list, srcRef(reg, local), srcRef(other, remote))
	mark, otherMark := reg.Mark(), other.Mark()
	r := e.mlist("push", "--dry-run", "--format", "json", list)
	if r.ExitCode != 0 {
		t.Fatalf("push --dry-run: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	if w := writes(reg.RequestsSince(mark)); len(w) > 0 {
		t.Errorf("dry run wrote to %s:\n%s", reg.Host, w)
	}
	if w := writes(other.RequestsSince(otherMark)); len(w) > 0 {
		t.Errorf("dry run wrote to %s:\n%s", other.Host, w)
	}
	if m := reg.GetManifest(t, repo, "1.0"); m.Status != http.StatusNotFound {
		t.Errorf("the tag exists after a dry run: %d", m.Status)
	}
	var plan struct {
		Digest    string
		Manifests []struct{ Action, Platform, Digest, Source string }
		Blobs     []struct{ Action string }
		Tags      []struct{ Tag, Old, New string }
		Requests  int
		Bytes     int64
	}
	if err := json.Unmarshal([]byte(r.Stdout), &plan); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	var actions []string
	for _, m := range plan.Manifests {
		actions = append(actions, m.Action+" "+m.Platform)
	}
	if want := []string{"put ", "put linux/amd64", "put linux/arm64"}; !slices.Equal(actions, want) {
		t.Fatalf("plan %q, want %q", actions, want)
	}
	blobs := map[string]int{}
	for _, b := range plan.Blobs {
		blobs[b.Action]++
	}
	if blobs["mount"] != 3 || blobs["copy"] != 2 || len(plan.Blobs) != 5 || plan.Bytes != remote.Config.Size+remote.Layers[0].Size {
		t.Errorf("plan blobs %v, %d bytes; want 3 mounted, 2 copied, %d bytes", blobs, plan.Bytes, remote.Config.Size+remote.Layers[0].Size)
	}
	if len(plan.Tags) != 1 || plan.Tags[0].Old != "" || plan.Tags[0].New != plan.Digest {
		t.Errorf("plan tags %+v, want 1.0 written with %s", plan.Tags, plan.Digest)
	}
	// The plan's list digest is what the push then writes.
	if got := mustPush(t, e, list); got != plan.Digest {
		t.Errorf("pushed %s, the dry run said %s", got, plan.Digest)
	}
	// Now the tag holds the list: the plan writes nothing.
	out := e.mustMlist(t, "push", "--dry-run", list)
	if !strings.Contains(out, ":1.0: "+plan.Digest[:len("sha256:")+12]+"… (unchanged: nothing written)") || !strings.Contains(out, "Plan: nothing to write") {
		t.Errorf("second dry run:\n%s", out)
	}
}

// verify reads a draft where push would: an entry annotated with another
// platform than its image's is caught before anything is pushed.
func TestVerifyDraft(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	list := reg.Ref(repo + ":1")
	e.mustMlist(t, "create", list, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
	if r := e.mlist("verify", "--deep", list); r.ExitCode != 0 || r.Stdout != "" {
		t.Fatalf("verify of a good draft: exit %d\n%s", r.ExitCode, r.Stdout)
	}
	e.mustMlist(t, "annotate", "--arch", "riscv64", list, "linux/amd64")
	r := e.mlist("verify", list)
	want := "entry linux/riscv64 (" + imgs[0].Digest + "): the list says linux/riscv64, the image config says linux/amd64\n"
	if r.ExitCode != 1 || r.Stdout != want {
		t.Errorf("verify: exit %d, stdout\n%q\nwant\n%q", r.ExitCode, r.Stdout, want)
	}
	if m := reg.GetManifest(t, repo, "1"); m.Status != http.StatusNotFound {
		t.Errorf("verify of a draft wrote the tag: %d", m.Status)
	}
	if r := e.mlist("diff"); r.ExitCode != 2 {
		t.Errorf("diff without arguments: exit %d, want 2", r.ExitCode)
	}
}
