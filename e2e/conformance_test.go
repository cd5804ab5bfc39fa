package e2e

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 8, conformance: the core workflows through the real docker CLI
// against four registry implementations — Debian's docker-registry 2.8,
// the CNCF distribution v3 registry, go-containerregistry's pkg/registry
// (referrers API on) and olareg (issue 20) — each served by its own
// process; go-containerregistry's validator checks each result.
//
// Known legitimate differences, each handled by an explicit branch below:
// olareg serves the referrers API, as ggcr does, and answers the tag list
// of a repository it never saw with an empty list. go-containerregistry's
// registry:
//   - blobs are global: a blob pushed to any repository is found in every
//     one, and a cross-repository mount is never honoured (202, an upload);
//   - a manifest is stored under each reference it was put with: DELETE by
//     digest leaves the tags that point to it serving it;
//   - tag listing honours ?n= and ?last= but sends no Link header.
//
// Requests counts are not asserted here (the benchmarks do that on
// docker-registry); outcomes are: digests printed and served, what each
// repository holds, tags.
func TestConformance(t *testing.T) {
	regs := map[string]*harness.Registry{}
	for _, impl := range harness.Impls {
		regs[impl] = startRegistry(t, harness.RegistryOptions{Impl: impl, DeleteEnabled: true})
	}
	e := newEnv(t)
	for i, impl := range harness.Impls {
		// Copies across implementations go to the next one in the table.
		other := harness.Impls[(i+1)%len(harness.Impls)]
		t.Run(impl, func(t *testing.T) {
			conformance(t, e, regs[impl], regs[other])
		})
	}
}

func conformance(t *testing.T, e *env, reg, other *harness.Registry) {
	ggcr := reg.Impl == harness.ImplGGCR
	// ggcr and olareg serve the OCI referrers API.
	referrersAPI := ggcr || reg.Impl == harness.ImplOlareg
	amd := reg.PushImage(t, "base/app", "amd64", "linux/amd64", harness.ImageOptions{Layers: 2})
	// Its config says v8, as the annotation below does: the validator
	// holds entries to their configs' variants.
	arm := reg.PushImage(t, "base/app", "arm64", "linux/arm64/v8", harness.ImageOptions{Layers: 2})
	armv7 := reg.PushImage(t, "base/tools", "armv7", "linux/arm/v7", harness.ImageOptions{OCI: true})

	var listDigest string // app:v1, made by create, annotate and push
	t.Run("create annotate push into another repository", func(t *testing.T) {
		list := reg.Ref("app:v1")
		e.mustMlist(t, "create", list, reg.Ref("base/app:amd64"), reg.Ref("base/app:arm64"))
		e.mustMlist(t, "annotate", "--variant", "v8", list, reg.Ref("base/app:arm64"))
		listDigest = digestOut(t, e.mustMlist(t, "push", "--purge", list))
		m, ix := reg.MustGetIndex(t, "app", "v1")
		if m.Digest != listDigest || m.MediaType != harness.MediaTypeDockerList {
			t.Errorf("app:v1 is %s %s, push printed %s", m.MediaType, m.Digest, listDigest)
		}
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64/v8"}; !slices.Equal(got, want) {
			t.Errorf("platforms %v, want %v", got, want)
		}
		checkHolds(t, reg, "app", amd, arm)
		reg.Validate(t, "app:v1")
	})

	t.Run("push into the same repository", func(t *testing.T) {
		list := reg.Ref("base/app:list")
		e.mustMlist(t, "create", list, reg.Ref("base/app:amd64"), reg.Ref("base/app:arm64"))
		d := digestOut(t, e.mustMlist(t, "push", "--purge", list))
		m, ix := reg.MustGetIndex(t, "base/app", "list")
		if m.Digest != d || len(ix.Manifests) != 2 || ix.Manifests[0].Digest != amd.Digest || ix.Manifests[1].Digest != arm.Digest {
			t.Errorf("base/app:list is %s with %+v, push printed %s", m.Digest, ix.Manifests, d)
		}
		reg.Validate(t, "base/app:list")
	})
	if listDigest == "" {
		t.Fatal("no list to go on with")
	}

	t.Run("merge", func(t *testing.T) {
		dst := reg.Ref("team/merged:v1")
		e.mustMlist(t, "create", dst, reg.Ref("base/tools:armv7"))
		e.mustMlist(t, "push", "--purge", dst)
		e.mustMlist(t, "merge", reg.Ref("app:v1"), dst)
		_, ix := reg.MustGetIndex(t, "team/merged", "v1")
		got := map[string]string{}
		for _, d := range ix.Manifests {
			got[d.Platform.String()] = d.Digest
		}
		want := map[string]string{"linux/amd64": amd.Digest, "linux/arm64/v8": arm.Digest, "linux/arm/v7": armv7.Digest}
		if len(got) != len(want) || got["linux/amd64"] != want["linux/amd64"] || got["linux/arm64/v8"] != want["linux/arm64/v8"] || got["linux/arm/v7"] != want["linux/arm/v7"] {
			t.Errorf("merged entries %v, want %v", got, want)
		}
		checkHolds(t, reg, "team/merged", amd, arm, armv7)
		reg.Validate(t, "team/merged:v1")
		// Merging again changes nothing.
		before := reg.MustGetManifest(t, "team/merged", "v1").Digest
		e.mustMlist(t, "merge", reg.Ref("app:v1"), dst)
		if after := reg.MustGetManifest(t, "team/merged", "v1").Digest; after != before {
			t.Errorf("a second merge changed the list from %s to %s", before, after)
		}
	})

	t.Run("copy within the registry", func(t *testing.T) {
		if d := mustCopy(t, e, reg.Ref("app:v1"), reg.Ref("mirror/app:v1")); d != listDigest {
			t.Errorf("copy printed %s, want %s", d, listDigest)
		}
		if got := reg.MustGetManifest(t, "mirror/app", "v1"); got.Digest != listDigest {
			t.Errorf("mirror/app:v1 is %s, want %s", got.Digest, listDigest)
		}
		checkHolds(t, reg, "mirror/app", amd, arm)
		reg.Validate(t, "mirror/app:v1")
	})

	t.Run("copy to "+other.Impl, func(t *testing.T) {
		repo := "from-" + reg.Impl + "/app"
		if d := mustCopy(t, e, reg.Ref("app:v1"), other.Ref(repo+":v1")); d != listDigest {
			t.Errorf("copy printed %s, want %s", d, listDigest)
		}
		if got := other.MustGetManifest(t, repo, "v1"); got.Digest != listDigest {
			t.Errorf("%s:v1 on %s is %s, want %s", repo, other.Impl, got.Digest, listDigest)
		}
		checkHolds(t, other, repo, amd, arm)
		other.Validate(t, repo+":v1")
	})

	t.Run("tags", func(t *testing.T) {
		want := []string{"a", "b", "c", "d", "e"}
		img := reg.PushImage(t, "tagged", "a", "linux/amd64", harness.ImageOptions{})
		for _, tag := range want[1:] {
			if _, err := reg.Client().PutManifest("tagged", tag, img.MediaType, img.Raw); err != nil {
				t.Fatal(err)
			}
		}
		// docker-registry 2.8 lists tags in storage order, not sorted; the
		// others sort them. Compared as sets.
		if got := sorted(strings.Fields(e.mustMlist(t, "tags", reg.Ref("tagged")))); !slices.Equal(got, want) {
			t.Errorf("tags %v, want %v", got, want)
		}
		got := strings.Fields(e.mustMlist(t, "tags", "--page-size", "2", reg.Ref("tagged")))
		if reg.Impl != harness.ImplGGCR {
			got = sorted(got)
		}
		if ggcr {
			// ggcr cuts the page at n but sends no Link to the next one: a
			// client following Link sees the first page only. Whatever the
			// client does, it must not invent or reorder tags.
			if len(got) < 2 || !slices.Equal(got, want[:len(got)]) {
				t.Errorf("paged tags %v, want a prefix of %v of at least one page", got, want)
			}
		} else if !slices.Equal(got, want) {
			t.Errorf("paged tags %v, want %v", got, want)
		}
		if reg.Impl == harness.ImplOlareg {
			// olareg answers the tag list of a repository it never saw
			// with an empty list, not NAME_UNKNOWN.
			if out := e.mustMlist(t, "tags", reg.Ref("tagged-missing")); strings.TrimSpace(out) != "" {
				t.Errorf("olareg: tags of a missing repository %q, want none", out)
			}
		} else {
			e.mlistFails(t, `tagged-missing`, "tags", reg.Ref("tagged-missing"))
		}
	})

	t.Run("delete", func(t *testing.T) {
		img := reg.PushImage(t, "gone", "bydigest", "linux/amd64", harness.ImageOptions{})
		if out := strings.TrimSpace(e.mustMlist(t, "delete", reg.DigestRef("gone", img.Digest))); out != img.Digest {
			t.Errorf("delete printed %q, want %s", out, img.Digest)
		}
		if got := reg.GetManifest(t, "gone", img.Digest); got.Status != http.StatusNotFound {
			t.Errorf("GET by digest after delete: %d, want 404", got.Status)
		}
		tagged := reg.GetManifest(t, "gone", "bydigest")
		if ggcr {
			// ggcr stores the tag separately from the digest; deleting the
			// digest leaves the tag serving the manifest.
			if tagged.Status != http.StatusOK || tagged.Digest != img.Digest {
				t.Errorf("ggcr: GET of the tag after deleting its digest: %d %s, want it untouched", tagged.Status, tagged.Digest)
			}
		} else if tagged.Status != http.StatusNotFound {
			t.Errorf("GET of its tag after delete: %d, want 404", tagged.Status)
		}

		img = reg.PushImage(t, "gone", "bytag", "linux/amd64", harness.ImageOptions{})
		if out := strings.TrimSpace(e.mustMlist(t, "delete", "--force", reg.Ref("gone:bytag"))); out != img.Digest {
			t.Errorf("delete --force printed %q, want %s", out, img.Digest)
		}
		if got := reg.GetManifest(t, "gone", img.Digest); got.Status != http.StatusNotFound {
			t.Errorf("GET by digest after delete --force: %d, want 404", got.Status)
		}
		e.mlistFails(t, `gone@`+img.Digest, "delete", reg.DigestRef("gone", img.Digest))
	})

	t.Run("copy --referrers", func(t *testing.T) {
		// A cosign signature tag works everywhere.
		sigTag := strings.Replace(listDigest, ":", "-", 1) + ".sig"
		sig := reg.PushImage(t, "app", sigTag, "linux/amd64", harness.ImageOptions{OCI: true})
		var ref harness.Referrer
		var srcReferrers harness.Index
		if referrersAPI {
			var err error
			subject := harness.Descriptor{MediaType: harness.MediaTypeDockerList, Digest: listDigest, Size: reg.MustGetManifest(t, "app", "v1").Size}
			if ref, err = reg.Client().PushReferrer("app", subject, "application/vnd.example.sbom"); err != nil {
				t.Fatal(err)
			}
			var st int
			if st, srcReferrers, err = reg.Client().Referrers("app", listDigest); err != nil || st != http.StatusOK || len(srcReferrers.Manifests) != 1 || srcReferrers.Manifests[0].Digest != ref.Digest {
				t.Fatalf("source referrers: %d %+v %v, want %s", st, srcReferrers.Manifests, err, ref.Digest)
			}
		} else if st, _, err := reg.Client().Referrers("app", listDigest); err != nil || st != http.StatusNotFound {
			t.Fatalf("%s answered the referrers API with %d (%v); this test expects it has none", reg.Impl, st, err)
		}

		if d := mustCopy(t, e, "--referrers", reg.Ref("app:v1"), reg.Ref("signed/app:v1")); d != listDigest {
			t.Errorf("copy printed %s, want %s", d, listDigest)
		}
		if got := reg.GetManifest(t, "signed/app", sigTag); got.Status != http.StatusOK || got.Digest != sig.Digest {
			t.Errorf("%s at the destination: %d %s, want %s", sigTag, got.Status, got.Digest, sig.Digest)
		}
		if referrersAPI {
			if got := reg.GetManifest(t, "signed/app", ref.Digest); got.Status != http.StatusOK || string(got.Raw) != string(ref.Raw) {
				t.Errorf("referrer %s at the destination: %d", ref.Digest, got.Status)
			}
			// ggcr reports the config's media type as artifactType, not the
			// manifest's artifactType: compared with what the source lists.
			st, ix, err := reg.Client().Referrers("signed/app", listDigest)
			if err != nil || st != http.StatusOK || !reflect.DeepEqual(ix.Manifests, srcReferrers.Manifests) {
				t.Errorf("destination referrers: %d %+v %v, want %+v as at the source", st, ix.Manifests, err, srcReferrers.Manifests)
			}
		}
		// Without --referrers nothing attached comes along.
		mustCopy(t, e, reg.Ref("app:v1"), reg.Ref("unsigned/app:v1"))
		if tags := reg.Tags(t, "unsigned/app"); !slices.Equal(tags, []string{"v1"}) {
			t.Errorf("tags without --referrers %v, want [v1]", tags)
		}
	})
}

// digestOut checks that a command printed a digest alone and returns it.
func digestOut(t testing.TB, out string) string {
	t.Helper()
	if !copyDigestRE.MatchString(out) {
		t.Fatalf("printed %q, want a digest alone", out)
	}
	return strings.TrimSpace(out)
}

// checkHolds checks that repo on reg serves each image's manifest bytes and
// the content of its config and layers.
func checkHolds(t testing.TB, reg *harness.Registry, repo string, imgs ...harness.Image) {
	t.Helper()
	c := reg.Client()
	for _, img := range imgs {
		got := reg.GetManifest(t, repo, img.Digest)
		if got.Status != http.StatusOK || string(got.Raw) != string(img.Raw) {
			t.Errorf("%s/%s@%s: %d, or other bytes than pushed", reg.Host, repo, img.Digest, got.Status)
			continue
		}
		for _, d := range append([]harness.Descriptor{img.Config}, img.Layers...) {
			data, err := c.GetBlob(repo, d.Digest)
			if err != nil || harness.Digest(data) != d.Digest {
				t.Errorf("%s/%s: blob %s of %s: %v", reg.Host, repo, d.Digest, img.Digest, err)
			}
		}
	}
}

// sorted returns s sorted.
func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// TestConformanceHarness checks what the other tests rely on for the
// implementations served by tools/registry: the request log (Mark,
// RequestsSince), and a clear refusal of options they do not offer.
func TestConformanceHarness(t *testing.T) {
	for _, impl := range []string{harness.ImplDistribution, harness.ImplGGCR} {
		t.Run(impl, func(t *testing.T) {
			reg := startRegistry(t, harness.RegistryOptions{Impl: impl})
			if reg.Impl != impl || !strings.HasPrefix(reg.URL, "http://127.0.0.1:") {
				t.Fatalf("started %q at %s", reg.Impl, reg.URL)
			}
			mark := reg.Mark()
			img := reg.PushImage(t, "app", "v1", "linux/amd64", harness.ImageOptions{})
			puts := reg.RequestsSince(mark).ForRepo("app").Filter(func(r harness.Request) bool {
				return r.Method == http.MethodPut && r.IsManifest() && r.Status == http.StatusCreated
			})
			if len(puts) != 1 || puts[0].Path != "/v2/app/manifests/v1" {
				t.Errorf("logged manifest PUTs %v, want the one of app:v1", puts)
			}
			if got := reg.MustGetManifest(t, "app", "v1"); got.Digest != img.Digest {
				t.Errorf("app:v1 is %s, pushed %s", got.Digest, img.Digest)
			}
			if _, err := harness.Start(harness.RegistryOptions{Impl: impl, TLS: true}); err == nil || !strings.Contains(err.Error(), impl) {
				t.Errorf("TLS on %s: %v, want a refusal naming it", impl, err)
			}
		})
	}
	if _, err := harness.Start(harness.RegistryOptions{Impl: "zot"}); err == nil || !strings.Contains(err.Error(), `"zot"`) {
		t.Errorf("unknown implementation: %v, want a refusal naming it", err)
	}
}
