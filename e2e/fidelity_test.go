package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestCreateFromPushesRegistryBytes: a draft started with create --from and
// pushed unchanged writes the registry's exact bytes, for lists mlist would
// not write itself: an OCI index whose entries have no platform (a nested
// index, an artifact), and a Docker manifest list of OCI images (what
// `docker manifest push` writes when the first image is a Docker one).
func TestCreateFromPushesRegistryBytes(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	c := reg.Client()
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	inner := reg.PushList(t, repo, "inner", imgs[1:], harness.ListOptions{OCI: true})
	sbom, err := c.PushReferrer(repo, imgs[0].Descriptor(), "application/spdx+json")
	if err != nil {
		t.Fatal(err)
	}
	put := func(tag, mediaType string, entries ...harness.Descriptor) string {
		t.Helper()
		raw, err := json.MarshalIndent(harness.Index{SchemaVersion: 2, MediaType: mediaType, Manifests: entries}, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutManifest(repo, tag, mediaType, raw); err != nil {
			t.Fatalf("the registry refused the %s list: %v", tag, err)
		}
		return tag
	}
	artifact := harness.Descriptor{MediaType: harness.MediaTypeOCIManifest, Digest: sbom.Digest, Size: int64(len(sbom.Raw)), ArtifactType: sbom.ArtifactType}
	dockerImg := reg.PushImage(t, repo, "docker-amd64", "linux/amd64", harness.ImageOptions{})
	for _, tag := range []string{
		put("nested", harness.MediaTypeOCIIndex, imgs[0].Descriptor(), inner.Descriptor()),
		put("artifact", harness.MediaTypeOCIIndex, imgs[0].Descriptor(), artifact),
		put("docker-of-oci", harness.MediaTypeDockerList, dockerImg.Descriptor(), imgs[1].Descriptor()),
	} {
		t.Run(tag, func(t *testing.T) {
			e := newEnv(t)
			want := reg.MustGetManifest(t, repo, tag)
			copied := reg.Ref(repo + ":" + tag + "-copy")
			e.mustMlist(t, "create", "--from", reg.Ref(repo+":"+tag), copied)
			if d := mustPush(t, e, copied); d != want.Digest {
				t.Errorf("push of the unchanged draft gave %s, the registry's list is %s", d, want.Digest)
			}
			got := reg.MustGetManifest(t, repo, tag+"-copy")
			if got.Digest != want.Digest || string(got.Raw) != string(want.Raw) || got.MediaType != want.MediaType {
				t.Errorf("pushed %s %s, want %s %s", got.MediaType, got.Digest, want.MediaType, want.Digest)
			}
			reg.Validate(t, repo+":"+tag+"-copy")
		})
	}
}

// TestDockerManifestDraftsInterchangeable: a draft `docker manifest create`
// made is listed by the reference it stands for, is found by that reference,
// and `docker mlist push` writes the digest `docker manifest push` writes,
// for OCI images (an OCI index) and for a Docker image first (a Docker list).
func TestDockerManifestDraftsInterchangeable(t *testing.T) {
	reg := plainRegistry(t)
	// The list's repository holds its images, as usual: ls reads the
	// list's name from the directory name docker gives the draft, where
	// "app-oci-images" could be app:oci-images or app-oci:images, and the
	// entries' repository decides.
	repo := testRepo(t, "app")
	ociImgs := reg.PushImages(t, repo, "oci", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	dockerImg := reg.PushImage(t, repo, "docker-s390x", "linux/s390x", harness.ImageOptions{})
	for name, tc := range map[string]struct {
		sources   []harness.Image
		mediaType string
	}{
		"oci images":   {sources: ociImgs, mediaType: harness.MediaTypeOCIIndex},
		"docker first": {sources: []harness.Image{dockerImg, ociImgs[0]}, mediaType: harness.MediaTypeDockerList},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tag := strings.ReplaceAll(name, " ", "-")
			list := reg.Ref(repo + ":" + tag)
			args := []string{"manifest", "create", "--insecure", list}
			for _, s := range tc.sources {
				args = append(args, srcRef(reg, s))
			}
			e.mustDocker(t, args...)

			if got := strings.Fields(e.mustMlist(t, "ls", "-q")); !slices.Equal(got, []string{list}) {
				t.Errorf("ls -q shows %v, want [%s]", got, list)
			}
			var ix harness.Index
			if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", list)), &ix); err != nil || len(ix.Manifests) != len(tc.sources) {
				t.Errorf("inspect %s: %v %+v", list, err, ix)
			}
			mine := mustPush(t, e, list)
			m := reg.MustGetManifest(t, repo, tag)
			out := e.mustDocker(t, "manifest", "push", "--insecure", list)
			theirs := reg.MustGetManifest(t, repo, tag)
			if mine != theirs.Digest || !strings.Contains(out, theirs.Digest) || string(m.Raw) != string(theirs.Raw) {
				t.Errorf("docker mlist push wrote %s, docker manifest push %s (printed %q)\nmlist:\n%s\ndocker:\n%s", mine, theirs.Digest, out, m.Raw, theirs.Raw)
			}
			if theirs.MediaType != tc.mediaType {
				t.Errorf("docker manifest push wrote %s, want %s", theirs.MediaType, tc.mediaType)
			}
			reg.Validate(t, repo+":"+tag)
			e.mustMlist(t, "rm", list)
			if out := e.mustMlist(t, "ls", "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("rm %s left %q", list, out)
			}
		})
	}
}

// TestPlatformClaimsAgainstConfigs: where a command holds an image's config,
// an entry whose platform contradicts it (os, architecture, variant,
// os.version) gets a WARNING line on stderr from create, annotate and push,
// and verify reports it with exit status 1.
func TestPlatformClaimsAgainstConfigs(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	arm := reg.PushImage(t, repo, "arm64", "linux/arm64", harness.ImageOptions{})
	win := reg.PushImage(t, repo, "win", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.1234"})
	// --template names an arm64 image for linux/s390x.
	reg.PushImage(t, repo, "t-linux-s390x", "linux/arm64", harness.ImageOptions{})
	e := newEnv(t)
	warning := func(r result, what string, want ...string) {
		t.Helper()
		var lines []string
		for _, l := range strings.Split(r.Stderr, "\n") {
			if strings.HasPrefix(l, "WARNING:") {
				lines = append(lines, l)
			}
		}
		if len(lines) != len(want) {
			t.Fatalf("%s: warnings %q, want %d matching %q", what, lines, len(want), want)
		}
		for i, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("%s: warning %q does not say %q", what, lines[i], w)
			}
		}
	}

	list := reg.Ref(repo + ":claims")
	r := e.mlist("create", list, srcRef(reg, arm), srcRef(reg, win))
	mustSucceed(t, r, "create")
	warning(r, "create from configs")
	r = e.mlist("annotate", "--variant", "v8", list, "linux/arm64")
	mustSucceed(t, r, "annotate")
	warning(r, "annotate --variant v8 on an arm64 image")
	r = e.mlist("annotate", "--arch", "amd64", "--variant", "", list, srcRef(reg, arm))
	mustSucceed(t, r, "annotate")
	warning(r, "annotate --arch", "the list says linux/amd64, the image config says linux/arm64")
	r = e.mlist("annotate", "--os-version", "10.0.20348.1", list, srcRef(reg, win))
	mustSucceed(t, r, "annotate")
	warning(r, "annotate --os-version", "the list says windows/amd64:10.0.20348.1, the image config says windows/amd64:10.0.17763.1234")
	r = e.mlist("push", list)
	d := strings.TrimSpace(mustSucceed(t, r, "push"))
	warning(r, "push", "image config says linux/arm64", "image config says windows/amd64:10.0.17763.1234")
	if m := reg.MustGetManifest(t, repo, "claims"); m.Digest != d {
		t.Errorf("push printed %s, the registry holds %s", d, m.Digest)
	}
	// The independent validator the suite runs refuses it too.
	if err := reg.ValidationError(t, repo+":claims"); err == nil || !strings.Contains(err.Error(), "OSVersion") {
		t.Errorf("the validator says %v of a list whose platforms contradict the configs", err)
	}

	r = e.mlist("verify", list)
	if r.ExitCode != 1 || strings.Count(r.Stdout, "\n") != 2 || !strings.Contains(r.Stdout, "the image config says linux/arm64") ||
		!strings.Contains(r.Stdout, "the list says windows/amd64:10.0.20348.1, the image config says windows/amd64:10.0.17763.1234") {
		t.Errorf("verify of the draft: exit %d\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	r = e.mlist("verify", "docker://"+list)
	if r.ExitCode != 1 || strings.Count(r.Stdout, "\n") != 2 || !strings.Contains(r.Stdout, "os.version") && !strings.Contains(r.Stdout, "10.0.17763.1234") {
		t.Errorf("verify of the pushed list: exit %d\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}

	tmpl := reg.Ref(repo + ":templated")
	r = e.mlist("create", tmpl, "--platforms", "linux/s390x", "--template", reg.Ref(repo+":t-OS-ARCH"))
	mustSucceed(t, r, "create --template")
	warning(r, "create --template", "the list says linux/s390x, the image config says linux/arm64")
}
