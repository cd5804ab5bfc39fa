package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 8's referrers: `copy --referrers` between docker-registry 2.8
// processes, which have no referrers API, so both sides use the OCI
// referrers tag schema (an index tagged sha256-<hex of the subject>, as
// cosign, notation and ORAS write it).

// Artifact types of the referrers the tests attach.
const (
	notationSig = "application/vnd.cncf.notary.signature"
	spdxSBOM    = "application/spdx+json"
	openVEX     = "application/vnd.openvex+json"
)

// referrersTag is the tag-schema tag of a sha256 digest.
func referrersTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// pushArtifact pushes to repo, by digest, an OCI artifact manifest of
// artifactType whose subject is the manifest subject (digest, size and
// media type), with payload as its one layer, and returns its descriptor
// as a referrers index lists it.
func pushArtifact(t testing.TB, reg *harness.Registry, repo string, subject harness.Descriptor, artifactType, payload string) harness.Descriptor {
	t.Helper()
	c := reg.Client()
	empty, err := c.PushBlob(repo, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := c.PushBlob(repo, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	annotations := map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
	raw, err := json.MarshalIndent(map[string]any{
		"schemaVersion": 2,
		"mediaType":     harness.MediaTypeOCIManifest,
		"artifactType":  artifactType,
		"config":        harness.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: empty, Size: 2},
		"layers":        []harness.Descriptor{{MediaType: "application/octet-stream", Digest: layer, Size: int64(len(payload))}},
		"subject":       harness.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		"annotations":   annotations,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.PutManifest(repo, harness.Digest(raw), harness.MediaTypeOCIManifest, raw)
	if err != nil {
		t.Fatal(err)
	}
	return harness.Descriptor{MediaType: harness.MediaTypeOCIManifest, Digest: d, Size: int64(len(raw)), ArtifactType: artifactType, Annotations: annotations}
}

// putReferrersIndex writes the tag-schema index of subject listing refs.
func putReferrersIndex(t testing.TB, reg *harness.Registry, repo, subject string, refs ...harness.Descriptor) {
	t.Helper()
	raw, err := json.Marshal(harness.Index{SchemaVersion: 2, MediaType: harness.MediaTypeOCIIndex, Manifests: refs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Client().PutManifest(repo, referrersTag(subject), harness.MediaTypeOCIIndex, raw); err != nil {
		t.Fatal(err)
	}
}

// checkReferrersIndex fails t unless reg/repo holds the tag-schema index of
// subject, an OCI index listing exactly want (in any order, each once, with
// its media type, size and artifact type), every one of which reg/repo
// serves.
func checkReferrersIndex(t testing.TB, reg *harness.Registry, repo, subject string, want ...harness.Descriptor) {
	t.Helper()
	m, ix := reg.MustGetIndex(t, repo, referrersTag(subject))
	if m.MediaType != harness.MediaTypeOCIIndex || ix.SchemaVersion != 2 || ix.MediaType != harness.MediaTypeOCIIndex {
		t.Errorf("%s/%s:%s is %s (schemaVersion %d, mediaType %q), want an OCI index", reg.Host, repo, referrersTag(subject), m.MediaType, ix.SchemaVersion, ix.MediaType)
	}
	var got, wantDigests []string
	for _, d := range ix.Manifests {
		got = append(got, d.Digest)
		i := slices.IndexFunc(want, func(w harness.Descriptor) bool { return w.Digest == d.Digest })
		if i < 0 {
			continue
		}
		if w := want[i]; d.MediaType != w.MediaType || d.Size != w.Size || d.ArtifactType != w.ArtifactType {
			t.Errorf("index entry %s: %s size %d artifactType %q, want %s %d %q", d.Digest, d.MediaType, d.Size, d.ArtifactType, w.MediaType, w.Size, w.ArtifactType)
		}
	}
	for _, w := range want {
		wantDigests = append(wantDigests, w.Digest)
		if have := reg.GetManifest(t, repo, w.Digest); have.Status != http.StatusOK {
			t.Errorf("referrer %s: %s/%s answers %d", w.Digest, reg.Host, repo, have.Status)
		}
	}
	slices.Sort(got)
	slices.Sort(wantDigests)
	if !slices.Equal(got, wantDigests) {
		t.Errorf("%s/%s:%s lists %v, want %v", reg.Host, repo, referrersTag(subject), got, wantDigests)
	}
}

// indexPuts counts the PUTs of a tag-schema index in rs.
func indexPuts(rs harness.Requests, subject string) int {
	return rs.Count(http.MethodPut, "/manifests/"+referrersTag(subject))
}

// TestCopyReferrersTagSchema: a signature of a list and an SBOM of one of
// its images, listed in tag-schema indexes as a client writes them on a
// registry without the referrers API, reach another registry and another
// repository of the same registry with `copy --referrers`: the referrer
// manifests byte for byte, and an index per subject listing them. An index
// the destination already has keeps its entries; a second copy writes no
// index and duplicates nothing.
func TestCopyReferrersTagSchema(t *testing.T) {
	src, other := plainRegistry(t), copyDestRegistry(t)
	srcRepo := testRepo(t, "src")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64", "linux/arm64")
	listDesc := harness.Descriptor{MediaType: list.MediaType, Digest: list.Digest, Size: int64(len(list.Raw))}
	img := list.Images[0]
	sig := pushArtifact(t, src, srcRepo, listDesc, notationSig, "signature of the list")
	sbom := pushArtifact(t, src, srcRepo, img.Descriptor(), spdxSBOM, `{"spdxVersion":"SPDX-2.3"}`)
	putReferrersIndex(t, src, srcRepo, list.Digest, sig)
	putReferrersIndex(t, src, srcRepo, img.Digest, sbom)
	e := newEnv(t)

	for name, dst := range map[string]*harness.Registry{"other registry": other, "same registry": src} {
		t.Run(name, func(t *testing.T) {
			dstRepo := testRepo(t, "dst")
			// What the destination already lists about the list stays.
			vex := pushArtifact(t, dst, dstRepo, listDesc, openVEX, "vex written at the destination")
			putReferrersIndex(t, dst, dstRepo, list.Digest, vex)

			srcMark, dstMark := src.Mark(), dst.Mark()
			r := e.mlist("copy", "--referrers", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
			t.Logf("copy --referrers: %d requests to the source repository, %d to the destination's",
				len(notPing(src.RequestsSince(srcMark).ForRepo(srcRepo))), len(notPing(dst.RequestsSince(dstMark).ForRepo(dstRepo))))
			if out := mustSucceed(t, r, "copy --referrers"); strings.TrimSpace(out) != list.Digest {
				t.Errorf("copy printed %q, want %s", out, list.Digest)
			}
			if strings.Contains(r.Stderr, "WARNING") {
				t.Errorf("copy warned:\n%s", r.Stderr)
			}
			checkCopied(t, src, srcRepo, dst, dstRepo, harness.Index{Manifests: []harness.Descriptor{sig, sbom}})
			checkReferrersIndex(t, dst, dstRepo, list.Digest, sig, vex)
			checkReferrersIndex(t, dst, dstRepo, img.Digest, sbom)
			if got := dst.GetManifest(t, dstRepo, referrersTag(list.Images[1].Digest)); got.Status != http.StatusNotFound {
				t.Errorf("an index was written for %s, which has no referrers (status %d)", list.Images[1].Digest, got.Status)
			}

			mark := dst.Mark()
			mustCopy(t, e, "--referrers", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
			rs := dst.RequestsSince(mark).ForRepo(dstRepo)
			if n := indexPuts(rs, list.Digest) + indexPuts(rs, img.Digest); n != 0 {
				t.Errorf("the second copy wrote an index %d times:\n%s", n, writes(rs))
			}
			checkReferrersIndex(t, dst, dstRepo, list.Digest, sig, vex)
			checkReferrersIndex(t, dst, dstRepo, img.Digest, sbom)
		})
	}
}

// TestCopyReferrersLeftBehind: a referrer the source's index lists but the
// source cannot serve is left behind with a warning naming it; the copy
// still succeeds, and the destination's index lists only what it holds.
func TestCopyReferrersLeftBehind(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	img := src.PushImage(t, srcRepo, "v1", "linux/amd64", harness.ImageOptions{OCI: true})
	sig := pushArtifact(t, src, srcRepo, img.Descriptor(), notationSig, "kept")
	gone := pushArtifact(t, src, srcRepo, img.Descriptor(), notationSig, "deleted after indexing")
	putReferrersIndex(t, src, srcRepo, img.Digest, sig, gone)
	if status, err := src.Client().DeleteManifest(srcRepo, gone.Digest); err != nil || status != http.StatusAccepted {
		t.Fatalf("delete %s: %d %v", gone.Digest, status, err)
	}
	e := newEnv(t)

	r := e.mlist("copy", "--referrers", src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1"))
	mustSucceed(t, r, "copy --referrers")
	if !strings.Contains(r.Stderr, "WARNING") || !strings.Contains(r.Stderr, gone.Digest) {
		t.Errorf("stderr does not warn about %s:\n%s", gone.Digest, r.Stderr)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, harness.Index{Manifests: []harness.Descriptor{sig}})
	checkReferrersIndex(t, dst, dstRepo, img.Digest, sig)
}
