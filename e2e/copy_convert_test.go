package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestCopyDockerArchive: a docker-archive holds one image, so a list is
// refused with a hint, and --platform picks the image that `docker load`
// then loads with the right architecture.
func TestCopyDockerArchive(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/s390x")
	e := newEnv(t)
	archive := filepath.Join(t.TempDir(), "app.tar")

	e.mlistFails(t, `docker-archive holds one image; choose it with --platform`, "copy", reg.Ref(repo+":v1"), "docker-archive:"+archive)

	tag := "mlist-e2e-archive:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	d := mustCopy(t, e, "--platform", "linux/s390x", reg.Ref(repo+":v1"), "docker-archive:"+archive+":"+tag)
	if d != list.Images[1].Digest {
		t.Errorf("copy printed %s, want the s390x image %s", d, list.Images[1].Digest)
	}

	requireEngine(t)
	_, want, err := reg.Client().EngineImages(repo, list.Images[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	e.mustDocker(t, "load", "-i", archive)
	t.Cleanup(func() { e.docker("rmi", tag) })
	checkEngineImage(t, e, tag, "docker load of the s390x archive", want[0], want[0].Manifest)
}

// TestCopyConvertSigned: converting changes digests, which would orphan a
// cosign signature; the copy is refused and nothing is written. An unsigned
// list converts.
func TestCopyConvertSigned(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	repo := testRepo(t, "src")
	list := pushCopySource(t, src, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)

	unsigned := testRepo(t, "unsigned")
	if d := mustCopy(t, e, "-q", "--media-type", "oci", src.Ref(repo+":v1"), dst.Ref(unsigned+":v1")); d == list.Digest {
		t.Errorf("--media-type oci kept the Docker list digest %s", d)
	}
	if got := dst.MustGetManifest(t, unsigned, "v1"); got.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("converted list has media type %s, want an OCI index", got.MediaType)
	}

	sigTag := strings.Replace(list.Digest, ":", "-", 1) + ".sig"
	src.PushImage(t, repo, sigTag, "linux/amd64", harness.ImageOptions{OCI: true})
	signed := testRepo(t, "signed")
	mark := dst.Mark()
	e.mlistFails(t, `invalidate its signature .*`+regexp.QuoteMeta(sigTag), "copy", "--media-type", "oci", src.Ref(repo+":v1"), dst.Ref(signed+":v1"))
	if w := writes(dst.RequestsSince(mark).ForRepo(signed)); len(w) > 0 {
		t.Errorf("a refused conversion wrote to the destination:\n%s", w)
	}
}
