package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// checkEnginePulls has the Docker engine pull reg's repo:tag for every
// platform the list there names (the image itself when it is not a list)
// and fails t unless each pull gives the image the list names: the OS,
// architecture and variant of its config, its ID (the config's digest in
// the classic image store; the containerd store names an image by the
// digest it pulled), its layers (RootFS.Layers are the config's diff IDs),
// and a repo digest naming what repo:tag resolved to. Each image is removed
// again. It returns that digest and the images, for further checks. The
// engine pulls the images of its own OS only; it skips the test where no
// engine answers (fails it in CI).
func checkEnginePulls(t testing.TB, e *env, reg *harness.Registry, repo, tag string) (string, []harness.EngineImage) {
	t.Helper()
	requireEngine(t)
	top, imgs, err := reg.Client().EngineImages(repo, tag)
	if err != nil {
		t.Fatalf("reading what %s names: %v", reg.Ref(repo+":"+tag), err)
	}
	ref := reg.Ref(repo + ":" + tag)
	t.Cleanup(func() { e.docker("rmi", "-f", ref) })
	pulled := 0
	for _, want := range imgs {
		if want.OS != "linux" {
			t.Logf("%s: not pulled, the engine runs linux images", want.Platform)
			continue
		}
		if own := (harness.Platform{OS: want.OS, Architecture: want.Architecture, Variant: want.Variant}); !samePlatform(own.String(), want.Platform) {
			t.Errorf("%s names %s for %s, an image whose config says %s", ref, want.Platform, want.Manifest, own)
		}
		e.mustDocker(t, "pull", "-q", "--platform", want.Platform, ref)
		pulled++
		checkEngineImage(t, e, ref, "docker pull --platform "+want.Platform+" "+ref, want, top)
		if !slices.Contains(inspectRepoDigests(t, e, ref), reg.DigestRef(repo, top)) {
			t.Errorf("docker pull --platform %s %s: repo digests lack %s", want.Platform, ref, reg.DigestRef(repo, top))
		}
		e.mustDocker(t, "rmi", ref)
	}
	if pulled == 0 {
		t.Fatalf("%s names no image the engine can pull: %+v", ref, imgs)
	}
	return top, imgs
}

// checkEngineImage fails t unless the engine's image ref (which what gave)
// is want: its config's OS, architecture and variant, its ID (the config's
// digest in the classic image store; the containerd store names an image by
// the digest it pulled, top) and its layers (the config's diff IDs).
func checkEngineImage(t testing.TB, e *env, ref, what string, want harness.EngineImage, top string) {
	t.Helper()
	var got struct {
		ID                        string `json:"Id"`
		Os, Architecture, Variant string
		RootFS                    struct{ Layers []string }
	}
	out := e.mustDocker(t, "image", "inspect", "--format", "{{json .}}", ref)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, out)
	}
	if got.Os != want.OS || got.Architecture != want.Architecture || got.Variant != want.Variant {
		t.Errorf("%s gave a %s/%s/%s image, want %s/%s/%s", what, got.Os, got.Architecture, got.Variant, want.OS, want.Architecture, want.Variant)
	}
	if got.ID != want.Config && got.ID != top {
		t.Errorf("%s gave image %s, want %s with config %s", what, got.ID, want.Manifest, want.Config)
	}
	if !slices.Equal(got.RootFS.Layers, want.DiffIDs) {
		t.Errorf("%s gave layers %v, want those of %s: %v", what, got.RootFS.Layers, want.Manifest, want.DiffIDs)
	}
}

func inspectRepoDigests(t testing.TB, e *env, ref string) []string {
	t.Helper()
	var ds []string
	out := e.mustDocker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, out)
	}
	return ds
}

// samePlatform compares "os/arch[/variant]" as the engine does, for which
// linux/arm64 is linux/arm64/v8.
func samePlatform(a, b string) bool {
	norm := func(p string) string {
		if rest, ok := strings.CutSuffix(p, "/arm64/v8"); ok {
			return rest + "/arm64"
		}
		return p
	}
	return norm(a) == norm(b)
}
