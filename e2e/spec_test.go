package e2e

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 4's manifest-tool compatibility: drafts from --platforms and
// --template, push --spec, and pushes whose entries live in other
// registries.

// draftIndex reads a draft with `docker mlist inspect --raw`.
func draftIndex(t *testing.T, e *env, list string) harness.Index {
	t.Helper()
	raw := e.mustMlist(t, "inspect", "--raw", list)
	ix, err := harness.Manifest{Raw: []byte(raw)}.Index()
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// configFiles lists every file below the env's DOCKER_CONFIG except
// config.json and the plugin link, to prove a failed command saved nothing.
func configFiles(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.ConfigDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.ConfigDir, path)
		if rel != "config.json" && !strings.HasPrefix(rel, "cli-plugins"+string(filepath.Separator)) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSpecTemplate: case 9. --platforms with --template names one image per
// platform; a missing one fails without a draft, or is skipped with a
// warning under --ignore-missing.
func TestSpecTemplate(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	platforms := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, platforms...) // img-linux-arm-v7 …
	tmpl := reg.Ref(srcRepo + ":img-OS-ARCH-VARIANT")
	e := newEnv(t)

	t.Run("all present", func(t *testing.T) {
		list := reg.Ref(testRepo(t, "app") + ":v1")
		e.mustMlist(t, "create", list, "--platforms", strings.Join(platforms, ","), "--template", tmpl)
		ix := draftIndex(t, e, list)
		if got := ix.Platforms(); !slices.Equal(got, platforms) {
			t.Errorf("draft platforms %v, want %v", got, platforms)
		}
		if got, want := entryDigests(ix.Manifests), imageDigests(imgs); !slices.Equal(got, want) {
			t.Errorf("draft entries %v, want %v", got, want)
		}
	})

	withS390x := strings.Join(append(slices.Clone(platforms), "linux/s390x"), ",")
	t.Run("missing", func(t *testing.T) {
		list := reg.Ref(testRepo(t, "app") + ":v1")
		before := configFiles(t, e)
		r := e.mlistFails(t, `linux/s390x`, "create", list, "--platforms", withS390x, "--template", tmpl)
		if r.Stdout != "" {
			t.Errorf("a failed create printed %q on stdout", r.Stdout)
		}
		if after := configFiles(t, e); !slices.Equal(before, after) {
			t.Errorf("a failed create wrote files: before %v, after %v", before, after)
		}
	})

	t.Run("ignore missing", func(t *testing.T) {
		list := reg.Ref(testRepo(t, "app") + ":v1")
		r := e.mlist("create", list, "--platforms", withS390x, "--template", tmpl, "--ignore-missing")
		mustSucceed(t, r, "create --ignore-missing")
		if !strings.Contains(r.Stderr, "WARNING") || !strings.Contains(r.Stderr, "linux/s390x") {
			t.Errorf("stderr does not warn about linux/s390x:\n%s", r.Stderr)
		}
		if got := draftIndex(t, e, list).Platforms(); !slices.Equal(got, platforms) {
			t.Errorf("draft platforms %v, want %v", got, platforms)
		}
	})
}

// TestSpecPushFile: case 10. A manifest-tool YAML spec whose sources are in
// another registry is pushed with its extra tags and the platforms it sets;
// an unknown key is an error naming it and its line, and writes nothing.
func TestSpecPushFile(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "app")
	amd := src.PushImage(t, srcRepo, "amd64", "linux/amd64", harness.ImageOptions{})
	arm := src.PushImage(t, srcRepo, "armv7", "linux/arm/v7", harness.ImageOptions{})
	win := src.PushImage(t, srcRepo, "win", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.1234"})
	e := newEnv(t)
	spec := `image: ` + dst.Ref(dstRepo+":v1") + `
tags: ["v1.0", "latest"]
manifests:
  - image: ` + src.Ref(srcRepo+":amd64") + `
    platform:
      architecture: amd64
      os: linux
  - image: ` + src.Ref(srcRepo+":armv7") + `
    platform:
      architecture: arm
      os: linux
      variant: v7
  - image: ` + src.Ref(srcRepo+":win") + `
    platform:
      architecture: amd64
      os: windows
      osversion: 10.0.17763.1234
      osfeatures: [win32k]
`
	file := filepath.Join(e.Dir, "spec.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}

	d := mustCopyLikeDigest(t, e.mustMlist(t, "push", "--spec", file))
	m, ix := dst.MustGetIndex(t, dstRepo, "v1")
	if m.Digest != d {
		t.Errorf("push printed %s, the registry holds %s", d, m.Digest)
	}
	if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm/v7", "windows/amd64"}; !slices.Equal(got, want) {
		t.Errorf("pushed platforms %v, want %v", got, want)
	}
	if got, want := entryDigests(ix.Manifests), []string{amd.Digest, arm.Digest, win.Digest}; !slices.Equal(got, want) {
		t.Errorf("pushed entries %v, want %v", got, want)
	}
	if p := ix.Manifests[2].Platform; p == nil || p.OSVersion != "10.0.17763.1234" || !slices.Equal(p.OSFeatures, []string{"win32k"}) {
		t.Errorf("windows entry platform %+v, want os.version 10.0.17763.1234 and os.features [win32k]", p)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)
	for _, tag := range []string{"v1.0", "latest"} {
		if got := dst.MustGetManifest(t, dstRepo, tag); got.Digest != d || string(got.Raw) != string(m.Raw) {
			t.Errorf("extra tag %s points at %s, want %s", tag, got.Digest, d)
		}
	}
	if tags := dst.Tags(t, dstRepo); len(tags) != 3 {
		t.Errorf("destination tags %v, want v1, v1.0, latest", tags)
	}

	t.Run("unknown key", func(t *testing.T) {
		repo := testRepo(t, "app")
		bad := `image: ` + dst.Ref(repo+":v1") + `
tags: ["latest"]
manifests:
  - image: ` + src.Ref(srcRepo+":amd64") + `
    platfrom:
      architecture: amd64
      os: linux
`
		file := filepath.Join(e.Dir, "bad.yaml")
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		srcMark, dstMark := src.Mark(), dst.Mark()
		r := e.mlistFails(t, `platfrom`, "push", "--spec", file)
		if !strings.Contains(r.Stderr, "line 5") {
			t.Errorf("the error does not name line 5:\n%s", r.Stderr)
		}
		if rs := dst.RequestsSince(dstMark); len(writes(rs)) > 0 || len(rs.ForRepo(repo)) > 0 {
			t.Errorf("a bad spec reached the destination:\n%s", rs)
		}
		if rs := src.RequestsSince(srcMark).ForRepo(srcRepo); len(rs) > 0 {
			t.Errorf("a bad spec reached the source:\n%s", rs)
		}
		if tags := dst.Tags(t, repo); tags != nil {
			t.Errorf("tags %v after a bad spec", tags)
		}
	})
}

// mustCopyLikeDigest checks that a command printed the digest alone.
func mustCopyLikeDigest(t *testing.T, out string) string {
	t.Helper()
	if !copyDigestRE.MatchString(out) {
		t.Fatalf("printed %q on stdout, want the digest alone", out)
	}
	return strings.TrimSpace(out)
}

// TestSpecCrossRegistryPush: case 8. A draft whose entries live in two
// registries is pushed to one of them and to a third; every entry is then in
// the target repository.
func TestSpecCrossRegistryPush(t *testing.T) {
	regA, regB := plainRegistry(t), copyDestRegistry(t)
	regC := startRegistry(t, harness.RegistryOptions{})
	repoA, repoB := testRepo(t, "a"), testRepo(t, "b")
	amd := regA.PushImage(t, repoA, "amd64", "linux/amd64", harness.ImageOptions{Layers: 2})
	arm := regB.PushImage(t, repoB, "arm64", "linux/arm64", harness.ImageOptions{Layers: 2})
	e := newEnv(t)

	for _, target := range []struct {
		name string
		reg  *harness.Registry
	}{{"to B", regB}, {"to a third", regC}} {
		t.Run(target.name, func(t *testing.T) {
			repo := testRepo(t, "app")
			list := target.reg.Ref(repo + ":v1")
			e.mustMlist(t, "create", list, regA.Ref(repoA+":amd64"), regB.Ref(repoB+":arm64"))
			d := mustCopyLikeDigest(t, e.mustMlist(t, "push", list))
			m, ix := target.reg.MustGetIndex(t, repo, "v1")
			if m.Digest != d {
				t.Errorf("push printed %s, the registry holds %s", d, m.Digest)
			}
			if got, want := entryDigests(ix.Manifests), []string{amd.Digest, arm.Digest}; !slices.Equal(got, want) {
				t.Errorf("pushed entries %v, want %v", got, want)
			}
			checkCopied(t, regA, repoA, target.reg, repo, harness.Index{Manifests: ix.Manifests[:1]})
			checkCopied(t, regB, repoB, target.reg, repo, harness.Index{Manifests: ix.Manifests[1:]})
			target.reg.Validate(t, repo+":v1")
			for _, c := range ix.Manifests {
				if got := target.reg.GetManifest(t, repo, c.Digest); got.Status != http.StatusOK {
					t.Errorf("entry %s missing in the target: %d", c.Digest, got.Status)
				}
			}
		})
	}
}

func entryDigests(ds []harness.Descriptor) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

func imageDigests(imgs []harness.Image) []string {
	out := make([]string, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, img.Digest)
	}
	return out
}
