package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestDockerManifestDrafts shares drafts with `docker manifest` both ways.
func TestDockerManifestDrafts(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm/v7")
	amd, arm := srcRef(reg, imgs[0]), srcRef(reg, imgs[1])
	repo := testRepo(t, "app")

	t.Run("docker manifest to mlist", func(t *testing.T) {
		e := newEnv(t)
		list := reg.Ref(repo + ":from-docker")
		e.mustDocker(t, "manifest", "create", "--insecure", list, amd, arm)
		e.mustDocker(t, "manifest", "annotate", "--variant", "v6", list, arm)

		var ix harness.Index
		if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", list)), &ix); err != nil {
			t.Fatal(err)
		}
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm/v6"}; !slices.Equal(got, want) || !slices.Equal(digests(ix.Manifests), []string{imgs[0].Digest, imgs[1].Digest}) {
			t.Errorf("mlist inspect of docker's draft: %v %v, want %v", ix.Platforms(), digests(ix.Manifests), want)
		}

		d := mustPush(t, e, list)
		m, pushed := reg.MustGetIndex(t, repo, "from-docker")
		if m.Digest != d || !slices.Equal(pushed.Platforms(), []string{"linux/amd64", "linux/arm/v6"}) {
			t.Errorf("registry holds %s %v, push printed %s", m.Digest, pushed.Platforms(), d)
		}
		assertEntriesIn(t, reg, repo, pushed, rawByDigest(imgs...))
	})

	t.Run("mlist to docker manifest", func(t *testing.T) {
		e := newEnv(t)
		list := reg.Ref(repo + ":from-mlist")
		e.mustMlist(t, "create", list, amd, arm)

		out := e.mustDocker(t, "manifest", "inspect", list)
		var ix harness.Index
		if err := json.Unmarshal([]byte(out), &ix); err != nil {
			t.Fatalf("docker manifest inspect: %v\n%s", err, out)
		}
		if !slices.Equal(digests(ix.Manifests), []string{imgs[0].Digest, imgs[1].Digest}) ||
			!slices.Equal(ix.Platforms(), []string{"linux/amd64", "linux/arm/v7"}) {
			t.Errorf("docker manifest inspect shows %v %v", digests(ix.Manifests), ix.Platforms())
		}

		out = e.mustDocker(t, "manifest", "push", "--insecure", list)
		_, pushed := reg.MustGetIndex(t, repo, "from-mlist")
		if !slices.Equal(digests(pushed.Manifests), []string{imgs[0].Digest, imgs[1].Digest}) ||
			!slices.Equal(pushed.Platforms(), []string{"linux/amd64", "linux/arm/v7"}) {
			t.Errorf("docker manifest push wrote %v %v", digests(pushed.Manifests), pushed.Platforms())
		}
		assertEntriesIn(t, reg, repo, pushed, rawByDigest(imgs...))
		if m := reg.MustGetManifest(t, repo, "from-mlist"); !strings.Contains(out, m.Digest) {
			t.Errorf("docker manifest push printed %q, the registry holds %s", out, m.Digest)
		}
	})
}

// TestEnginePull has the Docker engine pull every platform of a pushed
// list, each the image pushed for it.
func TestEnginePull(t *testing.T) {
	requireEngine(t)
	reg := plainRegistry(t)
	imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x")
	e := newEnv(t)
	createAndPush(t, e, reg, testRepo(t, "app"), "v1", imgs)

	_, pulled := checkEnginePulls(t, e, reg, testRepo(t, "app"), "v1")
	var got, want []string
	for i := range pulled {
		got = append(got, pulled[i].Platform+" "+pulled[i].Config)
	}
	for _, img := range imgs {
		want = append(want, img.Platform.String()+" "+img.Config.Digest)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the list names %v, want the images pushed %v", got, want)
	}
}

// TestHelpAndCompletion checks that docker lists the plugin and its
// subcommands, and completes them.
func TestHelpAndCompletion(t *testing.T) {
	e := newEnv(t)
	if out := e.mustDocker(t, "--help"); !regexp.MustCompile(`(?m)^\s+mlist\*?\s+Manage multi-arch`).MatchString(out) {
		t.Errorf("docker --help does not list mlist:\n%s", out)
	}
	subcommands := []string{"annotate", "create", "inspect", "ls", "push", "rm"}
	help := e.mustMlist(t, "--help")
	for _, c := range subcommands {
		if !regexp.MustCompile(`(?m)^\s+` + c + `\s+\S`).MatchString(help) {
			t.Errorf("docker mlist --help does not list %s:\n%s", c, help)
		}
	}
	var completed []string
	for _, l := range strings.Split(e.mustDocker(t, "__complete", "mlist", ""), "\n") {
		if name, _, ok := strings.Cut(l, "\t"); ok {
			completed = append(completed, name)
		}
	}
	for _, c := range subcommands {
		if !slices.Contains(completed, c) {
			t.Errorf("docker __complete mlist \"\" gave %v, missing %s", completed, c)
		}
	}
	if out := e.mustDocker(t, "__complete", "mlist", "push", "--"); !regexp.MustCompile(`(?m)^--purge\t`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^--quiet\t`).MatchString(out) {
		t.Errorf("docker __complete mlist push -- does not offer --purge and --quiet:\n%s", out)
	}
}
