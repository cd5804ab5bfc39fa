package e2e

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// pushImageWithoutPlatform pushes a layerless Docker image whose config
// names no os and no architecture, as some hand-built images have. A random
// label makes its digest new on every call.
func pushImageWithoutPlatform(t *testing.T, reg *harness.Registry, repo, tag string) harness.Image {
	t.Helper()
	c := reg.Client()
	cfg := []byte(`{"config":{"Labels":{"nonce":"` + rand.Text() + `"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDigest, err := c.PushBlob(repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := harness.ImageManifest{SchemaVersion: 2, MediaType: harness.MediaTypeDockerManifest,
		Config: harness.Descriptor{MediaType: harness.MediaTypeDockerConfig, Digest: cfgDigest, Size: int64(len(cfg))},
		Layers: []harness.Descriptor{}}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.PutManifest(repo, tag, m.MediaType, raw)
	if err != nil {
		t.Fatal(err)
	}
	return harness.Image{Repo: repo, Tag: tag, Digest: d, MediaType: m.MediaType, Raw: raw, Config: m.Config}
}

// TestBadInput checks that every bad input fails with one line on stderr
// naming the bad value, and writes nothing: no draft, no tag moved.
func TestBadInput(t *testing.T) {
	reg := plainRegistry(t)
	srcRepo := testRepo(t, "src")
	imgs := reg.PushImages(t, srcRepo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm/v7")
	amd, arm := srcRef(reg, imgs[0]), srcRef(reg, imgs[1])
	repo := testRepo(t, "app")
	list := reg.Ref(repo + ":v1")

	// nothingWritten checks that the env has no draft and the target tag
	// does not exist.
	nothingWritten := func(t *testing.T, e *env) {
		t.Helper()
		if files := draftFileNames(t, e); len(files) > 0 {
			t.Errorf("a failed command wrote drafts: %v", files)
		}
		if m := reg.GetManifest(t, repo, "v1"); m.Status != http.StatusNotFound {
			t.Errorf("%s exists after a failed command (status %d)", list, m.Status)
		}
	}

	t.Run("malformed reference", func(t *testing.T) {
		e := newEnv(t)
		failsOneLine(t, e, []string{"Bad//ref"}, "create", "Bad//ref", amd)
		failsOneLine(t, e, []string{"src:v1@sha256:nothex"}, "create", list, amd, reg.Ref(srcRepo+":v1@sha256:nothex"))
		failsOneLine(t, e, []string{"UPPER/app"}, "inspect", reg.Ref("UPPER/app:v1"))
		failsOneLine(t, e, []string{"Bad//ref"}, "push", "Bad//ref")
		nothingWritten(t, e)
	})

	t.Run("missing source", func(t *testing.T) {
		e := newEnv(t)
		missing := reg.Ref(srcRepo + ":does-not-exist")
		failsOneLine(t, e, []string{missing}, "create", list, amd, missing)
		missingDigest := reg.DigestRef(srcRepo, harness.Digest([]byte("nothing")))
		failsOneLine(t, e, []string{missingDigest}, "create", list, missingDigest, amd)
		nothingWritten(t, e)
	})

	t.Run("unreachable registry", func(t *testing.T) {
		e := newEnv(t)
		failsOneLine(t, e, []string{"127.0.0.1:1"}, "create", list, amd, "127.0.0.1:1/app:v1")
		failsOneLine(t, e, []string{"127.0.0.1:1"}, "inspect", "127.0.0.1:1/app:v1")
		nothingWritten(t, e)

		// A draft whose target is unreachable stays as it was.
		e.mustMlist(t, "create", "127.0.0.1:1/app:v1", amd, arm)
		before := draftFiles(t, e)
		failsOneLine(t, e, []string{"127.0.0.1:1"}, "push", "127.0.0.1:1/app:v1")
		assertDraftsUnchanged(t, e, before)
	})

	t.Run("annotate", func(t *testing.T) {
		e := newEnv(t)
		e.mustMlist(t, "create", list, amd, arm)
		before := draftFiles(t, e)
		for _, c := range []struct {
			args []string
			want []string // the bad value, then accepted ones
		}{
			{[]string{"--arch", "amd65"}, []string{"amd65", "amd64", "arm64", "s390x"}},
			{[]string{"--os", "linuks"}, []string{"linuks", "linux", "windows"}},
			{[]string{"--variant", "v9"}, []string{"v9", "v5", "v6", "v7", "v8"}},
		} {
			failsOneLine(t, e, c.want, append(append([]string{"annotate"}, c.args...), list, arm)...)
		}
		failsOneLine(t, e, []string{"linux/ppc64le", amd, arm}, "annotate", "--variant", "v8", list, "linux/ppc64le")
		failsOneLine(t, e, []string{reg.Ref(srcRepo + ":nope")}, "annotate", "--variant", "v8", list, reg.Ref(srcRepo+":nope"))
		failsOneLine(t, e, []string{"sha256:0123456789ab"}, "annotate", "--variant", "v8", list, "sha256:0123456789ab")
		failsOneLine(t, e, []string{reg.Ref(repo + ":other")}, "annotate", "--variant", "v8", reg.Ref(repo+":other"), arm)
		assertDraftsUnchanged(t, e, before)
	})

	t.Run("entry without platform", func(t *testing.T) {
		e := newEnv(t)
		// The tag holds a list already; a failed push must leave it.
		old := reg.PushList(t, repo, "noplatform", imgs, harness.ListOptions{})
		bare := pushImageWithoutPlatform(t, reg, srcRepo, "bare")
		target := reg.Ref(repo + ":noplatform")
		e.mustMlist(t, "create", target, amd, srcRef(reg, bare))
		before := draftFiles(t, e)
		failsOneLine(t, e, []string{srcRef(reg, bare), "os", "arch"}, "push", target)
		assertDraftsUnchanged(t, e, before)
		if m := reg.MustGetManifest(t, repo, "noplatform"); m.Digest != old.Digest {
			t.Errorf("failed push moved %s from %s to %s", target, old.Digest, m.Digest)
		}
		if m := reg.GetManifest(t, repo, bare.Digest); m.Status != http.StatusNotFound {
			t.Errorf("failed push copied the entry %s into %s (status %d)", bare.Digest, repo, m.Status)
		}

		// Annotating it makes it pushable.
		e.mustMlist(t, "annotate", "--os", "linux", "--arch", "arm64", target, bare.Digest)
		d := mustPush(t, e, target)
		if _, ix := reg.MustGetIndex(t, repo, "noplatform"); ix.Manifests[1].Digest != bare.Digest || ix.Platforms()[1] != "linux/arm64" {
			t.Errorf("pushed %s: entries %v %v", d, digests(ix.Manifests), ix.Platforms())
		}
	})

	t.Run("push without draft", func(t *testing.T) {
		e := newEnv(t)
		failsOneLine(t, e, []string{list}, "push", list)
		nothingWritten(t, e)
	})
}

// TestBadMediaType checks --media-type values and a Docker list asked to
// hold an OCI image.
func TestBadMediaType(t *testing.T) {
	reg := plainRegistry(t)
	oci := reg.PushImage(t, testRepo(t, "src"), "oci", "linux/amd64", harness.ImageOptions{OCI: true})
	list := reg.Ref(testRepo(t, "app") + ":v1")
	e := newEnv(t)
	failsOneLine(t, e, []string{`"dockr"`, "docker", "oci"}, "create", "--media-type", "dockr", list, srcRef(reg, oci))
	failsOneLine(t, e, []string{oci.Digest, "oci"}, "create", "--media-type", "docker", list, srcRef(reg, oci))
	if files := draftFileNames(t, e); len(files) > 0 {
		t.Errorf("a failed create wrote drafts: %v", files)
	}
}
