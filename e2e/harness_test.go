package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestHarness checks the harness itself: registries, the direct client, the
// request log, the Docker engine pulling what the harness pushed, the pass
// credential store, and that `docker` finds the plugin.
func TestHarness(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		reg := plainRegistry(t)
		repo := testRepo(t, "app")
		mark := reg.Mark()

		amd := reg.PushImage(t, repo, "amd64", "linux/amd64", harness.ImageOptions{})
		arm := reg.PushImage(t, repo, "arm64", "linux/arm64", harness.ImageOptions{OCI: true, Layers: 2})
		armv7 := reg.PushImage(t, repo, "armv7", "linux/arm/v7", harness.ImageOptions{LayerSize: 4096})
		list := reg.PushList(t, repo, "v1", []harness.Image{amd, arm, armv7}, harness.ListOptions{OCI: true, Attestations: true})

		m, ix := reg.MustGetIndex(t, repo, "v1")
		if m.Digest != list.Digest || harness.Digest(m.Raw) != list.Digest || m.MediaType != harness.MediaTypeOCIIndex {
			t.Errorf("read back %s %s, pushed %s", m.MediaType, m.Digest, list.Digest)
		}
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}; !slices.Equal(got, want) {
			t.Errorf("platforms %v, want %v", got, want)
		}
		atts := ix.Attestations()
		if len(atts) != 3 || atts[1].Annotations[harness.AnnotationReferenceDigest] != arm.Digest ||
			atts[1].Platform.String() != "unknown/unknown" {
			t.Errorf("attestation entries: %+v", atts)
		}
		for _, img := range []harness.Image{amd, arm, armv7, list.Attestations[0]} {
			got := reg.MustGetManifest(t, repo, img.Digest)
			if got.Digest != img.Digest || string(got.Raw) != string(img.Raw) || got.MediaType != img.MediaType {
				t.Errorf("%s: read back %s %s", img.Digest, got.MediaType, got.Digest)
			}
			for _, l := range img.Layers {
				if !reg.BlobExists(t, repo, l.Digest) {
					t.Errorf("layer %s of %s missing", l.Digest, img.Digest)
				}
			}
		}
		att, err := reg.MustGetManifest(t, repo, list.Attestations[0].Digest).ImageManifest()
		if err != nil || att.Layers[0].MediaType != harness.MediaTypeInToto || att.Config.MediaType != harness.MediaTypeOCIConfig {
			t.Errorf("attestation manifest: %+v, %v", att, err)
		}

		docker := reg.PushList(t, repo, "docker", []harness.Image{amd, armv7}, harness.ListOptions{})
		if got := reg.MustGetManifest(t, repo, "docker"); got.MediaType != harness.MediaTypeDockerList || got.Digest != docker.Digest {
			t.Errorf("docker list read back as %s %s, pushed %s", got.MediaType, got.Digest, docker.Digest)
		}
		if h, err := reg.Client().HeadManifest(repo, "docker"); err != nil || h.Status != 200 || h.Digest != docker.Digest || h.Raw != nil {
			t.Errorf("HEAD: %+v %v", h, err)
		}
		if got := reg.GetManifest(t, repo, "nope"); got.Status != http.StatusNotFound {
			t.Errorf("missing tag: status %d", got.Status)
		}
		tags := reg.Tags(t, repo)
		slices.Sort(tags)
		if want := []string{"amd64", "arm64", "armv7", "docker", "v1"}; !slices.Equal(tags, want) {
			t.Errorf("tags %v, want %v", tags, want)
		}

		// Manifests: 3 images, 3 attestations, the index, the Docker list.
		// Blobs: 4 layers and 3 configs, then 3 in-toto statements and 3
		// attestation configs (distinct: each names its statement).
		reqs := reg.RequestsSince(mark).ForRepo(repo)
		if n := reqs.Count(http.MethodPut, "/manifests/"); n != 8 {
			t.Errorf("%d manifest PUTs, want 8:\n%s", n, reqs)
		}
		if n := reqs.Count(http.MethodPut, "/blobs/uploads/"); n != 4+3+3+3 {
			t.Errorf("%d blob PUTs, want 13:\n%s", n, reqs)
		}
		for _, r := range reqs.Method(http.MethodPut) {
			if r.Status != http.StatusCreated {
				t.Errorf("PUT answered %d: %s", r.Status, r)
			}
		}
		if n := reg.RequestsSince(reg.Mark()).Count("", ""); n != 0 {
			t.Errorf("no requests expected after a fresh mark, got %d", n)
		}

		// A list in another repo brings its children over by mount.
		other := testRepo(t, "other")
		mark = reg.Mark()
		reg.PushList(t, other, "v1", []harness.Image{amd, arm}, harness.ListOptions{OCI: true})
		reqs = reg.RequestsSince(mark).ForRepo(other)
		if n := reqs.Filter(func(r harness.Request) bool {
			return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=") && r.Status == http.StatusCreated
		}); len(n) != 2+3 {
			t.Errorf("want 5 mounted blobs (2 configs, 3 layers):\n%s", reqs)
		}

		reg.ResetRequests()
		if n := len(reg.Requests()); n != 0 {
			t.Errorf("%d requests after ResetRequests", n)
		}

		t.Run("engine pull", func(t *testing.T) {
			checkEnginePulls(t, newEnv(t), reg, repo, "v1")
		})
	})

	t.Run("tls", func(t *testing.T) {
		reg := tlsRegistry(t)
		if !strings.HasPrefix(reg.URL, "https://") || reg.CACertPool == nil {
			t.Fatalf("not a TLS registry: %s", reg.URL)
		}
		if data, err := os.ReadFile("/etc/docker/certs.d/" + reg.Host + "/ca.crt"); err != nil || string(data) != string(reg.CACertPEM) {
			t.Errorf("CA not installed in /etc/docker/certs.d/%s: %v", reg.Host, err)
		}
		repo := testRepo(t, "app")
		imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/s390x")
		list := reg.PushList(t, repo, "v1", imgs, harness.ListOptions{OCI: true})
		if m := reg.MustGetManifest(t, repo, "v1"); m.Digest != list.Digest {
			t.Errorf("read back %s, pushed %s", m.Digest, list.Digest)
		}
		if _, err := harness.NewClient(reg.Host, harness.ClientOptions{TLS: true}).Ping(); err == nil {
			t.Error("a client without the test CA trusted the registry")
		}
		if n := reg.Requests().ForRepo(repo).Count(http.MethodPut, "/manifests/"); n != 3 {
			t.Errorf("%d manifest PUTs, want 3", n)
		}
	})

	t.Run("htpasswd", func(t *testing.T) {
		reg := authRegistry(t)
		repo := testRepo(t, "app")
		img := reg.PushImage(t, repo, "v1", "linux/amd64", harness.ImageOptions{})
		if m := reg.MustGetManifest(t, repo, "v1"); m.Digest != img.Digest {
			t.Errorf("read back %s, pushed %s", m.Digest, img.Digest)
		}
		if m, err := reg.ClientAs("", "").GetManifest(repo, "v1"); err != nil || m.Status != http.StatusUnauthorized {
			t.Errorf("anonymous GET: status %d, %v; want 401", m.Status, err)
		}
		if m, err := reg.ClientAs(testUser, "wrong").GetManifest(repo, "v1"); err != nil || m.Status != http.StatusUnauthorized {
			t.Errorf("wrong password: status %d, %v; want 401", m.Status, err)
		}
		if n := reg.Requests().ForRepo(repo).Filter(func(r harness.Request) bool { return r.Status == http.StatusUnauthorized }); len(n) == 0 {
			t.Error("no 401 in the request log")
		}

		t.Run("file store", func(t *testing.T) {
			requireEngine(t) // docker pull; the plugin tests use e.login the same way
			e := newEnv(t)
			e.login(t, reg.Host, testUser, testPassword)
			checkEnginePulls(t, e, reg, repo, "v1")
		})

		t.Run("pass", func(t *testing.T) {
			e := newEnv(t)
			setupPass(t, e)
			out := mustSucceed(t, e.dockerStdin(testPassword, "login", "-u", testUser, "--password-stdin", reg.Host), "docker login")
			if !strings.Contains(out, "Login Succeeded") {
				t.Errorf("docker login said %q", out)
			}
			raw, _ := os.ReadFile(e.configPath())
			var cfg struct {
				CredsStore string                    `json:"credsStore"`
				Auths      map[string]map[string]any `json:"auths"`
			}
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			if entry, ok := cfg.Auths[reg.Host]; !ok || len(entry) != 0 || cfg.CredsStore != "pass" {
				t.Errorf("config.json should name %s with an empty auth entry and credsStore pass:\n%s", reg.Host, raw)
			}
			list := mustSucceed(t, e.run("", "docker-credential-pass", "list"), "docker-credential-pass list")
			if !strings.Contains(list, reg.Host) || !strings.Contains(list, testUser) {
				t.Errorf("docker-credential-pass list = %s, want %s", list, reg.Host)
			}
		})
	})

	t.Run("own registry", func(t *testing.T) {
		reg := startRegistry(t, harness.RegistryOptions{})
		repo := testRepo(t, "app")
		img := reg.PushImage(t, repo, "", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.1234", Layers: -1})
		if status, err := reg.Client().DeleteManifest(repo, img.Digest); err != nil || status != http.StatusMethodNotAllowed {
			t.Errorf("DELETE with deletes disabled: %d %v, want 405", status, err)
		}
		im, err := reg.MustGetManifest(t, repo, img.Digest).ImageManifest()
		if err != nil || len(im.Layers) != 0 {
			t.Errorf("layerless image: %+v %v", im, err)
		}
		if reg.Tags(t, repo) != nil {
			t.Errorf("an image pushed by digest has tags")
		}
	})

	t.Run("plugin installed", func(t *testing.T) {
		e := newEnv(t)
		e.mustMlist(t, "--help")
		if out := e.mustDocker(t, "--help"); !strings.Contains(out, "mlist") {
			t.Errorf("docker --help does not list mlist:\n%s", out)
		}
	})
}
