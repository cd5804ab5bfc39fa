package e2e

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// The core workflow of issue 2: create, annotate, inspect, push, rm, ls
// against real registries, checked by what the registry holds afterwards.

// pushedDigestRE is what `docker mlist push` prints on stdout: the digest alone.
var pushedDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// mustPush runs `docker mlist push args...`, checks that stdout is the digest
// alone and returns it.
func mustPush(t *testing.T, e *env, args ...string) string {
	t.Helper()
	out := e.mustMlist(t, append([]string{"push"}, args...)...)
	if !pushedDigestRE.MatchString(out) {
		t.Fatalf("push printed %q on stdout, want the digest alone", out)
	}
	return strings.TrimSpace(out)
}

// srcRef is the tag reference of a pushed image.
func srcRef(reg *harness.Registry, img harness.Image) string {
	return reg.Ref(img.Repo + ":" + img.Tag)
}

// draftFiles returns every file the plugin and `docker manifest` keep drafts
// in (path below the config dir -> content), to prove a failed command wrote
// nothing.
func draftFiles(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"manifests", "mlist"} {
		root := filepath.Join(e.ConfigDir, dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(e.ConfigDir, path)
			if rel == filepath.Join("mlist", "locks") {
				return filepath.SkipDir // lock files hold no draft
			}
			if d.IsDir() {
				out[rel+"/"] = ""
				return nil
			}
			data, err := os.ReadFile(path)
			out[rel] = string(data)
			return err
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return out
}

// draftFileNames lists the files (not directories) of draftFiles.
func draftFileNames(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	for name := range draftFiles(t, e) {
		if !strings.HasSuffix(name, "/") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// assertDraftsUnchanged fails t if the draft files differ from before.
func assertDraftsUnchanged(t *testing.T, e *env, before map[string]string) {
	t.Helper()
	if after := draftFiles(t, e); !maps.Equal(before, after) {
		t.Errorf("drafts changed:\nbefore: %v\nafter:  %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
}

// failsOneLine runs `docker mlist args...` and fails t unless it exits
// non-zero with exactly one line on stderr containing every string of want.
func failsOneLine(t *testing.T, e *env, want []string, args ...string) result {
	t.Helper()
	r := e.mlist(args...)
	if r.ExitCode <= 0 {
		t.Fatalf("docker mlist %s: exit %d (%v), want a failure", strings.Join(args, " "), r.ExitCode, r.Err)
	}
	msg := strings.TrimSuffix(r.Stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("docker mlist %s: want exactly one line on stderr, got:\n%s", strings.Join(args, " "), r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("docker mlist %s: stderr does not name %q:\n%s", strings.Join(args, " "), w, r.Stderr)
		}
	}
	if r.Stdout != "" {
		t.Errorf("docker mlist %s: failed but printed on stdout:\n%s", strings.Join(args, " "), r.Stdout)
	}
	return r
}

// assertEntriesIn fails t unless every manifest of ix is served by digest
// from repo with exactly the bytes of want (digest -> raw manifest).
func assertEntriesIn(t *testing.T, reg *harness.Registry, repo string, ix harness.Index, want map[string][]byte) {
	t.Helper()
	for _, d := range ix.Manifests {
		got := reg.GetManifest(t, repo, d.Digest)
		if got.Status != http.StatusOK {
			t.Errorf("entry %s: GET %s/%s@%s answered %d", d.Platform, reg.Host, repo, d.Digest, got.Status)
			continue
		}
		if raw, ok := want[d.Digest]; ok && string(got.Raw) != string(raw) {
			t.Errorf("entry %s: %s serves other bytes than the source", d.Digest, repo)
		}
		if harness.Digest(got.Raw) != d.Digest || int64(len(got.Raw)) != d.Size {
			t.Errorf("entry %s: served %d bytes with digest %s, the list says %d", d.Digest, len(got.Raw), harness.Digest(got.Raw), d.Size)
		}
	}
}

func rawByDigest(imgs ...harness.Image) map[string][]byte {
	out := map[string][]byte{}
	for _, img := range imgs {
		out[img.Digest] = img.Raw
	}
	return out
}

func digests(ds []harness.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

// TestCreatePush builds a 4-platform list from images in another repository
// of the same registry, pushes it, and checks the registry's list, its
// digest and that every entry is in the target repository.
func TestCreatePush(t *testing.T) {
	reg := plainRegistry(t)
	platforms := []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"}
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, platforms...)
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	e := newEnv(t)

	args := []string{"create", list}
	for _, img := range imgs {
		args = append(args, srcRef(reg, img))
	}
	e.mustMlist(t, args...)
	draftRaw := e.mustMlist(t, "inspect", "--raw", list)

	d := mustPush(t, e, list)
	m, ix := reg.MustGetIndex(t, repo, "v1")
	if m.Digest != d || harness.Digest(m.Raw) != d {
		t.Errorf("push printed %s, the registry holds %s (bytes hash to %s)", d, m.Digest, harness.Digest(m.Raw))
	}
	if m.MediaType != harness.MediaTypeDockerList {
		t.Errorf("pushed a %s, want a Docker manifest list (every entry is a Docker image)", m.MediaType)
	}
	if got := ix.Platforms(); !slices.Equal(got, platforms) {
		t.Errorf("registry list has platforms %v, want %v", got, platforms)
	}
	if got, want := digests(ix.Manifests), digests(imgDescriptors(imgs)); !slices.Equal(got, want) {
		t.Errorf("registry list entries %v, want %v", got, want)
	}
	assertEntriesIn(t, reg, repo, ix, rawByDigest(imgs...))
	reg.Validate(t, repo+":v1")
	if draftRaw != string(m.Raw) {
		t.Errorf("inspect --raw of the draft differs from the pushed bytes:\n%s\n---\n%s", draftRaw, m.Raw)
	}

	// Without the draft, inspect reads the registry: its --raw output
	// hashes to the pushed digest.
	e.mustMlist(t, "rm", list)
	if raw := e.mustMlist(t, "inspect", "--raw", list); harness.Digest([]byte(raw)) != d {
		t.Errorf("sha256 of inspect --raw is %s, pushed %s", harness.Digest([]byte(raw)), d)
	}
	sum := mustSucceed(t, e.run("", "sh", "-c", `docker mlist inspect --raw "$0" | sha256sum`, list), "inspect --raw | sha256sum")
	if got := "sha256:" + strings.Fields(sum)[0]; got != d {
		t.Errorf("inspect --raw | sha256sum = %s, pushed %s", got, d)
	}
}

func imgDescriptors(imgs []harness.Image) []harness.Descriptor {
	var out []harness.Descriptor
	for _, img := range imgs {
		out = append(out, img.Descriptor())
	}
	return out
}

// TestCreateFromList takes every entry of a list with attestations, plus a
// single image, and checks the pushed index keeps the attestations with
// their subjects.
func TestCreateFromList(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	src := reg.PushList(t, srcRepo, "multi", imgs, harness.ListOptions{OCI: true, Attestations: true})
	extra := reg.PushImage(t, srcRepo, "s390x", "linux/s390x", harness.ImageOptions{})
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	e := newEnv(t)

	e.mustMlist(t, "create", list, reg.Ref(srcRepo+":multi"), srcRef(reg, extra))
	d := mustPush(t, e, "--purge", list)
	if files := draftFileNames(t, e); len(files) > 0 {
		t.Errorf("push --purge left draft files: %v", files)
	}

	m, ix := reg.MustGetIndex(t, repo, "v1")
	if m.Digest != d || m.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("registry holds %s %s, pushed %s; want an OCI index", m.MediaType, m.Digest, d)
	}
	if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64", "linux/s390x"}; !slices.Equal(got, want) {
		t.Errorf("platforms %v, want %v", got, want)
	}
	atts := ix.Attestations()
	if got, want := digests(atts), []string{src.Attestations[0].Digest, src.Attestations[1].Digest}; !slices.Equal(got, want) {
		t.Fatalf("attestation entries %v, want %v", got, want)
	}
	images := map[string]bool{}
	for _, d := range ix.Images() {
		images[d.Digest] = true
	}
	for i, a := range atts {
		subject := a.Annotations[harness.AnnotationReferenceDigest]
		if subject != imgs[i].Digest || !images[subject] {
			t.Errorf("attestation %s names subject %s; want %s, an image of the list", a.Digest, subject, imgs[i].Digest)
		}
		if a.Platform == nil || a.Platform.String() != "unknown/unknown" {
			t.Errorf("attestation %s has platform %v, want unknown/unknown", a.Digest, a.Platform)
		}
		for _, l := range src.Attestations[i].Layers {
			if !reg.BlobExists(t, repo, l.Digest) {
				t.Errorf("in-toto layer %s of attestation %s is not in %s", l.Digest, a.Digest, repo)
			}
		}
	}
	assertEntriesIn(t, reg, repo, ix, rawByDigest(append(append(imgs, extra), src.Attestations...)...))
	reg.Validate(t, repo+":v1")
}

// TestCreateAmend adds to a draft with --amend, replacing an entry of the
// same digest in place; without --amend an existing draft is refused and
// left alone, and two entries of one platform are refused naming both.
func TestCreateAmend(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64", "linux/s390x")
	amd, arm, s390x := imgs[0], imgs[1], imgs[2]
	list := reg.Ref(testRepo(t, "app") + ":v1")
	e := newEnv(t)

	e.mustMlist(t, "create", list, srcRef(reg, amd), srcRef(reg, arm))
	before := draftFiles(t, e)
	failsOneLine(t, e, []string{list, "--amend"}, "create", list, srcRef(reg, s390x))
	assertDraftsUnchanged(t, e, before)

	// arm64 again, by digest this time: same digest, so it replaces the
	// entry instead of adding a second one.
	e.mustMlist(t, "create", "--amend", list, reg.DigestRef(srcRepo, arm.Digest), srcRef(reg, s390x))
	var ix harness.Index
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", list)), &ix); err != nil {
		t.Fatal(err)
	}
	if got, want := digests(ix.Manifests), []string{amd.Digest, arm.Digest, s390x.Digest}; !slices.Equal(got, want) {
		t.Errorf("amended draft has entries %v, want %v", got, want)
	}

	// Another arm64 image: two entries for one platform.
	other := reg.PushImage(t, srcRepo, "arm64-other", "linux/arm64", harness.ImageOptions{})
	before = draftFiles(t, e)
	failsOneLine(t, e, []string{srcRef(reg, other), reg.DigestRef(srcRepo, arm.Digest)}, "create", "--amend", list, srcRef(reg, other))
	assertDraftsUnchanged(t, e, before)

	d := mustPush(t, e, list)
	m, ix := reg.MustGetIndex(t, testRepo(t, "app"), "v1")
	if m.Digest != d || !slices.Equal(digests(ix.Manifests), []string{amd.Digest, arm.Digest, s390x.Digest}) {
		t.Errorf("registry holds %s with %v, pushed %s", m.Digest, digests(ix.Manifests), d)
	}
}

// TestAnnotate sets variant, os.version and annotations on entries chosen by
// source reference, digest and platform, and checks the pushed index carries
// them; a Docker list refuses annotations without changing the draft.
func TestAnnotate(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	amd := reg.PushImage(t, srcRepo, "amd64", "linux/amd64", harness.ImageOptions{})
	arm := reg.PushImage(t, srcRepo, "arm", "linux/arm/v7", harness.ImageOptions{})
	win := reg.PushImage(t, srcRepo, "windows", "windows/amd64", harness.ImageOptions{Layers: -1})
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	e := newEnv(t)
	e.mustMlist(t, "create", list, srcRef(reg, amd), srcRef(reg, arm), srcRef(reg, win))

	e.mustMlist(t, "annotate", "--variant", "v6", list, srcRef(reg, arm))
	e.mustMlist(t, "annotate", "--annotation", "org.example.entry=amd", list, amd.Digest[:7+16])
	e.mustMlist(t, "annotate", "--os-version", "10.0.17763.1234", "--annotation", "org.example.entry=win",
		"--index-annotation", "org.opencontainers.image.version=1.0", list, "windows/amd64")

	d := mustPush(t, e, list)
	m, ix := reg.MustGetIndex(t, repo, "v1")
	if m.Digest != d || m.MediaType != harness.MediaTypeOCIIndex {
		t.Fatalf("registry holds %s %s, pushed %s; want an OCI index (it has annotations)", m.MediaType, m.Digest, d)
	}
	if got := ix.Annotations["org.opencontainers.image.version"]; got != "1.0" || len(ix.Annotations) != 1 {
		t.Errorf("index annotations %v, want org.opencontainers.image.version=1.0", ix.Annotations)
	}
	want := map[string]struct {
		platform, osVersion, annotation string
	}{
		amd.Digest: {"linux/amd64", "", "amd"},
		arm.Digest: {"linux/arm/v6", "", ""},
		win.Digest: {"windows/amd64", "10.0.17763.1234", "win"},
	}
	if len(ix.Manifests) != len(want) {
		t.Fatalf("%d entries, want %d", len(ix.Manifests), len(want))
	}
	for _, got := range ix.Manifests {
		w, ok := want[got.Digest]
		switch {
		case !ok:
			t.Errorf("unexpected entry %s", got.Digest)
		case got.Platform == nil || got.Platform.String() != w.platform || got.Platform.OSVersion != w.osVersion:
			t.Errorf("entry %s: platform %+v, want %s os.version %q", got.Digest, got.Platform, w.platform, w.osVersion)
		case got.Annotations["org.example.entry"] != w.annotation || (w.annotation == "") != (len(got.Annotations) == 0):
			t.Errorf("entry %s: annotations %v, want org.example.entry=%q", got.Digest, got.Annotations, w.annotation)
		}
	}
	assertEntriesIn(t, reg, repo, ix, rawByDigest(amd, arm, win))

	t.Run("docker list refuses annotations", func(t *testing.T) {
		list := reg.Ref(repo + ":docker")
		e.mustMlist(t, "create", "--media-type", "docker", list, srcRef(reg, amd), srcRef(reg, arm))
		before := draftFiles(t, e)
		failsOneLine(t, e, []string{"annotation", "oci"}, "annotate", "--annotation", "a=b", list, "linux/amd64")
		failsOneLine(t, e, []string{"annotation", "oci"}, "annotate", "--index-annotation", "a=b", list, "linux/amd64")
		assertDraftsUnchanged(t, e, before)
	})
}

// TestPushMountsAcrossRepositories pushes a list into a second repository
// whose entries came from a first one, and checks the blobs were mounted,
// not uploaded, and every entry is served by the second repository.
func TestPushMountsAcrossRepositories(t *testing.T) {
	reg := plainRegistry(t)
	first, second := testRepo(t, "first"), testRepo(t, "second")
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{OCI: true, Layers: 2}, "linux/amd64", "linux/arm64", "linux/ppc64le")
	e := newEnv(t)

	args := []string{"create", reg.Ref(first + ":v1")}
	for _, img := range imgs {
		args = append(args, srcRef(reg, img))
	}
	e.mustMlist(t, args...)
	firstDigest := mustPush(t, e, "--purge", reg.Ref(first+":v1"))

	// The list in the first repository is the source now: its entries live there.
	e.mustMlist(t, "create", reg.Ref(second+":v1"), reg.Ref(first+":v1"))
	mark := reg.Mark()
	d := mustPush(t, e, "-q", reg.Ref(second+":v1"))
	reqs := reg.RequestsSince(mark).ForRepo(second)

	m, ix := reg.MustGetIndex(t, second, "v1")
	if m.Digest != d || d != firstDigest {
		t.Errorf("second list %s (push printed %s), want the first list's bytes %s", m.Digest, d, firstDigest)
	}
	assertEntriesIn(t, reg, second, ix, rawByDigest(imgs...))

	mounted := reqs.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=") && strings.Contains(r.Query, "from="+strings.ReplaceAll(first, "/", "%2F")) && r.Status == http.StatusCreated
	})
	if want := 3 * (1 + 2); len(mounted) != want { // a config and two layers each
		t.Errorf("%d blobs mounted from %s, want %d:\n%s", len(mounted), first, want, reqs)
	}
	uploads := reqs.Filter(func(r harness.Request) bool {
		return r.IsBlob() && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
	})
	if len(uploads) != 0 {
		t.Errorf("blobs uploaded instead of mounted:\n%s", uploads)
	}
	puts := reqs.Filter(func(r harness.Request) bool { return r.Method == http.MethodPut && r.IsManifest() })
	if len(puts) != 4 || !strings.HasSuffix(puts[len(puts)-1].Path, "/manifests/v1") {
		t.Errorf("want 3 manifests put by digest, then the list by tag last:\n%s", puts)
	}
}

// TestDraftsLsRm lists drafts with their entry counts and platforms, and
// removes several at once with one of them missing.
func TestDraftsLsRm(t *testing.T) {
	reg := plainRegistry(t)
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, "linux/amd64", "linux/arm/v7", "linux/riscv64")
	one, two, three := reg.Ref(testRepo(t, "app")+":one"), reg.Ref(testRepo(t, "app")+":two"), reg.Ref(testRepo(t, "app")+":three")
	e := newEnv(t)
	e.mustMlist(t, "create", one, srcRef(reg, imgs[0]))
	e.mustMlist(t, "create", two, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]), srcRef(reg, imgs[2]))
	e.mustMlist(t, "create", three, srcRef(reg, imgs[1]))

	table := e.mustMlist(t, "ls")
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(two)+`\s+3\s+linux/amd64,linux/arm/v7,linux/riscv64\s*$`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(one)+`\s+1\s+linux/amd64\s*$`).MatchString(table) {
		t.Errorf("ls does not show the entry counts and platforms:\n%s", table)
	}
	var rows []struct {
		Name      string   `json:"name"`
		Entries   int      `json:"entries"`
		Platforms []string `json:"platforms"`
	}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "ls", "--format", "json")), &rows); err != nil {
		t.Fatalf("ls --format json: %v", err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Name] = strings.Join(r.Platforms, ",") + " " + strings.Repeat("#", r.Entries)
	}
	want := map[string]string{one: "linux/amd64 #", two: "linux/amd64,linux/arm/v7,linux/riscv64 ###", three: "linux/arm/v7 #"}
	if !maps.Equal(got, want) {
		t.Errorf("ls --format json = %v, want %v", got, want)
	}

	missing := reg.Ref(testRepo(t, "app") + ":missing")
	r := e.mlistFails(t, regexp.QuoteMeta(missing), "rm", one, missing, three)
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if !strings.HasPrefix(l, "Removed ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], missing) || strings.Contains(errLines[0], one) || strings.Contains(errLines[0], three) {
		t.Errorf("rm: want one error line naming only %s, got:\n%s", missing, r.Stderr)
	}
	if names := strings.Fields(e.mustMlist(t, "ls", "-q")); !slices.Equal(names, []string{two}) {
		t.Errorf("after rm, drafts %v, want only %s", names, two)
	}
	if out := e.mustMlist(t, "inspect", "--format", "{{len .Manifests}}", two); strings.TrimSpace(out) != "3" {
		t.Errorf("the remaining draft %s now has %q entries, want 3", two, out)
	}
}

// TestInspectFormats checks --format json, table and templates, and -v's
// config digest and layers per entry, against what was pushed.
func TestInspectFormats(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{Layers: 2}, "linux/amd64", "linux/arm64")
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	e := newEnv(t)
	e.mustMlist(t, "create", list, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
	d := mustPush(t, e, "--purge", list)

	for _, from := range []struct{ name, ref string }{{"registry", list}, {"draft", list}} {
		t.Run(from.name, func(t *testing.T) {
			if from.name == "draft" {
				e.mustMlist(t, "create", list, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
				t.Cleanup(func() { e.mlist("rm", list) })
			}
			if got := strings.TrimSpace(e.mustMlist(t, "inspect", "--format", "{{.Digest}} {{len .Manifests}}", from.ref)); got != d+" 2" {
				t.Errorf("template gave %q, want %q", got, d+" 2")
			}

			var view struct {
				Name      string `json:"name"`
				MediaType string `json:"mediaType"`
				Digest    string `json:"digest"`
				Manifests []struct {
					Platform     string `json:"platform"`
					Digest       string `json:"digest"`
					ConfigDigest string `json:"configDigest"`
					Layers       []struct {
						Digest string `json:"digest"`
					} `json:"layers"`
				} `json:"manifests"`
			}
			out := e.mustMlist(t, "inspect", "-v", "--format", "json", from.ref)
			if err := json.Unmarshal([]byte(out), &view); err != nil {
				t.Fatalf("inspect -v --format json: %v\n%s", err, out)
			}
			if view.Digest != d || view.MediaType != harness.MediaTypeDockerList || len(view.Manifests) != 2 {
				t.Fatalf("inspect -v: %+v; want digest %s, a Docker list of 2", view, d)
			}
			for i, img := range imgs {
				got := view.Manifests[i]
				var layers []string
				for _, l := range got.Layers {
					layers = append(layers, l.Digest)
				}
				if got.Digest != img.Digest || got.Platform != img.Platform.String() || got.ConfigDigest != img.Config.Digest ||
					!slices.Equal(layers, digests(img.Layers)) {
					t.Errorf("inspect -v entry %d: %+v\nwant digest %s, platform %s, config %s, layers %v",
						i, got, img.Digest, img.Platform, img.Config.Digest, digests(img.Layers))
				}
			}

			table := e.mustMlist(t, "inspect", "--format", "table", from.ref)
			for _, img := range imgs {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(img.Platform.String()) + `\s+` + img.Digest + `\s`).MatchString(table) {
					t.Errorf("table has no row for %s %s:\n%s", img.Platform, img.Digest, table)
				}
			}
			if !strings.Contains(table, d) {
				t.Errorf("table does not show the list digest %s:\n%s", d, table)
			}
			table = e.mustMlist(t, "inspect", "-v", "--format", "table", from.ref)
			for _, img := range imgs {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(img.Platform.String()) + `\s+` + img.Digest + `\s.*\s` + img.Config.Digest + `\s+2\s*$`).MatchString(table) {
					t.Errorf("-v table has no row for %s with config %s and 2 layers:\n%s", img.Platform, img.Config.Digest, table)
				}
			}

			var ix harness.Index
			if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", from.ref)), &ix); err != nil {
				t.Fatalf("default inspect output is not JSON: %v", err)
			}
			if !slices.Equal(ix.Platforms(), []string{"linux/amd64", "linux/arm64"}) {
				t.Errorf("default inspect shows platforms %v", ix.Platforms())
			}
		})
	}
}
