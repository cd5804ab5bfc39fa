package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Drafts that cannot collide or be lost (issue 9): names docker/cli's
// escaping maps to one directory, concurrent edits of one draft, a draft
// with a corrupt file, and bad input refused before anything is written.

// inspectDraft returns what `docker mlist inspect` shows of a draft.
func inspectDraft(t *testing.T, e *env, list string) harness.Index {
	t.Helper()
	var ix harness.Index
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", list)), &ix); err != nil {
		t.Fatalf("inspect %s: %v", list, err)
	}
	return ix
}

func TestCollidingDraftNames(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64", "linux/s390x")
	amd, arm, s390x := srcRef(reg, imgs[0]), srcRef(reg, imgs[1]), srcRef(reg, imgs[2])
	base := testRepo(t, "")
	for _, pair := range []struct{ name, repoA, tagA, repoB, tagB string }{
		// docker/cli escapes "/" and "_" alike, and ":" and "-".
		{"slash and underscore", base + "/team/app", "1", base + "/team_app", "1"},
		{"colon and dash", base + "/app", "v1-2", base + "/app-v1", "2"},
	} {
		t.Run(pair.name, func(t *testing.T) {
			e := newEnv(t)
			a, b := reg.Ref(pair.repoA+":"+pair.tagA), reg.Ref(pair.repoB+":"+pair.tagB)
			e.mustMlist(t, "create", a, amd)
			// Not "already exists", and not an amend of a's draft.
			e.mustMlist(t, "create", b, arm)
			e.mlistFails(t, "already exists", "create", b, s390x)
			e.mustMlist(t, "create", "--amend", b, s390x)

			if got := digests(inspectDraft(t, e, a).Manifests); !slices.Equal(got, []string{imgs[0].Digest}) {
				t.Errorf("inspect %s shows %v, want only its own entry", a, got)
			}
			if got := digests(inspectDraft(t, e, b).Manifests); !slices.Equal(got, []string{imgs[1].Digest, imgs[2].Digest}) {
				t.Errorf("inspect %s shows %v, want its own two entries", b, got)
			}
			// ls and completion list the real names.
			want := []string{a, b}
			slices.Sort(want)
			if got := strings.Fields(e.mustMlist(t, "ls", "-q")); !slices.Equal(got, want) {
				t.Errorf("ls -q = %v, want %v", got, want)
			}
			if out := e.mustDocker(t, "__complete", "mlist", "rm", ""); !strings.Contains(out, a+"\n") || !strings.Contains(out, b+"\n") {
				t.Errorf("completion of rm does not offer both names:\n%s", out)
			}
			// docker manifest sees the first name's draft, in its own place.
			var dix harness.Index
			if err := json.Unmarshal([]byte(e.mustDocker(t, "manifest", "inspect", a)), &dix); err != nil {
				t.Fatal(err)
			}
			if got := digests(dix.Manifests); !slices.Equal(got, []string{imgs[0].Digest}) {
				t.Errorf("docker manifest inspect %s shows %v", a, got)
			}

			// Each push writes its own entries to its own repository.
			mustPush(t, e, b)
			mustPush(t, e, a)
			_, ixA := reg.MustGetIndex(t, pair.repoA, pair.tagA)
			_, ixB := reg.MustGetIndex(t, pair.repoB, pair.tagB)
			if got := digests(ixA.Manifests); !slices.Equal(got, []string{imgs[0].Digest}) {
				t.Errorf("%s holds %v after push", a, got)
			}
			if got := digests(ixB.Manifests); !slices.Equal(got, []string{imgs[1].Digest, imgs[2].Digest}) {
				t.Errorf("%s holds %v after push", b, got)
			}

			// rm removes only the draft named.
			e.mustMlist(t, "rm", a)
			if got := strings.Fields(e.mustMlist(t, "ls", "-q")); !slices.Equal(got, []string{b}) {
				t.Errorf("after rm %s: ls -q = %v", a, got)
			}
			e.mlistFails(t, "no draft manifest list", "rm", a)
			if got := digests(inspectDraft(t, e, b).Manifests); len(got) != 2 {
				t.Errorf("%s lost entries to rm %s: %v", b, a, got)
			}
			// The freed docker directory goes to the next name that asks.
			e.mustMlist(t, "create", a, s390x)
			e.mustMlist(t, "rm", b)
			if got := digests(inspectDraft(t, e, a).Manifests); !slices.Equal(got, []string{imgs[2].Digest}) {
				t.Errorf("%s after re-creating it and removing %s: %v", a, b, got)
			}
		})
	}
}

// concurrentPlatforms are 21 platforms no two of which are the same.
var concurrentPlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/386",
	"linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/mips64le", "linux/mips64", "linux/mipsle",
	"linux/mips", "linux/loong64", "linux/ppc64", "windows/amd64", "windows/arm64", "freebsd/amd64",
	"freebsd/arm64", "openbsd/amd64", "netbsd/amd64",
}

func TestConcurrentDraftEdits(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{OCI: true, Layers: -1}, concurrentPlatforms...)
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	e := newEnv(t)
	e.mustMlist(t, "create", "--media-type", "oci", list, srcRef(reg, imgs[0]))

	// parallel runs one docker mlist command per image but the first, all
	// at once, and fails t for each that fails.
	parallel := func(args func(i int, img harness.Image) []string) {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]result, len(imgs))
		for i, img := range imgs[1:] {
			wg.Go(func() { results[i+1] = e.mlist(args(i+1, img)...) })
		}
		wg.Wait()
		for i, r := range results[1:] {
			if r.ExitCode != 0 {
				t.Errorf("docker mlist %v: exit %d\n%s", args(i+1, imgs[i+1]), r.ExitCode, r.Stderr)
			}
		}
	}
	parallel(func(_ int, img harness.Image) []string {
		return []string{"create", "--amend", list, srcRef(reg, img)}
	})
	var want []string
	for _, img := range imgs {
		want = append(want, img.Digest)
	}
	got := digests(inspectDraft(t, e, list).Manifests)
	if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("after %d concurrent create --amend the draft has %d of %d entries", len(imgs)-1, len(got), len(want))
	}

	parallel(func(i int, img harness.Image) []string {
		return []string{"annotate", "--annotation", fmt.Sprintf("test.entry=%d", i), "--index-annotation", fmt.Sprintf("test.k%d=v", i), list, img.Digest}
	})
	d := mustPush(t, e, list)
	m, ix := reg.MustGetIndex(t, repo, "v1")
	if m.Digest != d {
		t.Errorf("registry holds %s, push printed %s", m.Digest, d)
	}
	byDigest := map[string]harness.Descriptor{}
	for _, desc := range ix.Manifests {
		byDigest[desc.Digest] = desc
	}
	for i, img := range imgs {
		desc, ok := byDigest[img.Digest]
		if !ok {
			t.Errorf("entry %s (%s) missing from the pushed list", img.Digest, img.Platform)
			continue
		}
		if i == 0 {
			continue
		}
		if desc.Annotations["test.entry"] != fmt.Sprint(i) {
			t.Errorf("entry %s lost its annotation: %v", img.Platform, desc.Annotations)
		}
		if ix.Annotations[fmt.Sprintf("test.k%d", i)] != "v" {
			t.Errorf("index annotation test.k%d lost: %v", i, ix.Annotations)
		}
	}
}

func TestLsCorruptDraft(t *testing.T) {
	reg := plainRegistry(t)
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	good, bad := reg.Ref(testRepo(t, "good")+":1"), reg.Ref(testRepo(t, "bad")+":1")
	e := newEnv(t)
	e.mustMlist(t, "create", good, srcRef(reg, imgs[0]))
	e.mustMlist(t, "create", bad, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))
	dir := filepath.Join(e.ConfigDir, "manifests", strings.NewReplacer(":", "-", "/", "_").Replace(bad))
	files, err := os.ReadDir(dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("draft directory %s: %v %v", dir, files, err)
	}
	if err := os.WriteFile(filepath.Join(dir, files[0].Name()), []byte("{truncated"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"ls"}, {"ls", "-q"}, {"ls", "--format", "json"}} {
		r := e.mlist(args...)
		if r.ExitCode != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.ExitCode)
		}
		if !strings.Contains(r.Stdout, good) || strings.Contains(r.Stdout, bad) {
			t.Errorf("%v: stdout should list %s only:\n%s", args, good, r.Stdout)
		}
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "draft "+bad+" is unreadable") || !strings.Contains(lines[0], files[0].Name()) {
			t.Errorf("%v: want one stderr line naming %s and its bad file, got:\n%s", args, bad, r.Stderr)
		}
	}
	// The corrupt draft is refused, not overwritten, and can be removed.
	e.mlistFails(t, "invalid draft file", "create", "--amend", bad, srcRef(reg, imgs[0]))
	if b, _ := os.ReadFile(filepath.Join(dir, files[0].Name())); string(b) != "{truncated" {
		t.Errorf("the corrupt file was rewritten: %q", b)
	}
	e.mustMlist(t, "rm", bad)
	if out := e.mustMlist(t, "ls", "-q"); strings.TrimSpace(out) != good {
		t.Errorf("after rm: ls -q = %q", out)
	}
}

func TestDraftInputRules(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	amd := srcRef(reg, imgs[0])
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")
	sha512 := "sha512:" + strings.Repeat("ab", 64)
	e := newEnv(t)
	spec := filepath.Join(e.Dir, "two.yaml")
	if err := os.WriteFile(spec, fmt.Appendf(nil, "image: %s\nmanifests: [{image: %s}]\n---\nimage: %s\nmanifests: [{image: %s}]\n",
		list, amd, reg.Ref(repo+":v2"), amd), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(e.Dir, "big.yaml")
	if err := os.WriteFile(big, []byte("image: "+list+"\n# "+strings.Repeat("x", 2<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"push", "--spec", big}, []string{big, "over 1 MiB"}},
		{[]string{"create", list, "--platforms", "linux/amd64,linux/arm64", "--template", reg.Ref(srcRepo + ":img-linux-amd64")},
			[]string{reg.Ref(srcRepo + ":img-linux-amd64"), "no placeholder", "OS", "ARCH", "VARIANT"}},
		{[]string{"create", list, "--platforms", "linux/arm/v6,linux/arm/v7", "--template", reg.Ref(srcRepo + ":img-OS-ARCH")},
			[]string{"linux/arm/v6", "linux/arm/v7", "VARIANT"}},
		{[]string{"create", list, "--platforms", "linux/arm64,linux/arm64", "--template", reg.Ref(srcRepo + ":img-OS-ARCH")},
			[]string{"linux/arm64 is listed twice"}},
		{[]string{"create", list, "--platforms", "linux/amd64,,linux/arm64", "--template", reg.Ref(srcRepo + ":img-OS-ARCH")},
			[]string{`"linux/amd64,,linux/arm64"`, "item 2 is empty"}},
		{[]string{"create", list, reg.Ref(srcRepo + "@" + sha512)}, []string{"sha512", "use a sha256 digest"}},
		{[]string{"push", "--spec", spec}, []string{spec, "several YAML documents"}},
		{[]string{"copy", list, "oci-archive:"}, []string{`"oci-archive:"`, "the path is empty"}},
		{[]string{"copy", list, "oci-archive::tag"}, []string{"the path is empty"}},
	} {
		failsOneLine(t, e, c.want, c.args...)
	}
	if files := draftFileNames(t, e); len(files) > 0 {
		t.Errorf("refused commands wrote drafts: %v", files)
	}
	if tags := reg.Tags(t, repo); len(tags) > 0 {
		t.Errorf("refused commands pushed tags %v", tags)
	}
	if _, err := os.Stat(filepath.Join(e.Dir, "tag")); err == nil {
		t.Error("copy to an empty oci-archive path wrote a file")
	}
}
