package copy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// emptyConfig is the OCI empty descriptor's content, the config of artifacts.
const emptyConfig = "{}"

// refFixture is an image and what refers to it, in a stub registry.
type refFixture struct {
	image   string // digest
	sig     imgspecv1.Descriptor
	sbom    imgspecv1.Descriptor
	sbomSig imgspecv1.Descriptor // refers to sbom, not to the image
	cosign  string               // digest of the cosign .sig tag's manifest
}

// pushArtifact stores an artifact manifest about subject (by digest only)
// and returns its descriptor as a referrers listing shows it.
func pushArtifact(s *registrystub.Stub, repo, subject, artifactType, payload string) imgspecv1.Descriptor {
	cfg := s.PutBlob(repo, []byte(emptyConfig))
	layer := s.PutBlob(repo, []byte(payload))
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     imgspecv1.MediaTypeImageManifest,
		"artifactType":  artifactType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": len(emptyConfig)},
		"layers":        []any{map[string]any{"mediaType": "application/octet-stream", "digest": layer, "size": len(payload)}},
		"annotations":   map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
	}
	if subject != "" {
		m["subject"] = map[string]any{"mediaType": imgspecv1.MediaTypeImageManifest, "digest": subject, "size": 1}
	}
	raw, _ := json.Marshal(m)
	d := s.PutManifest(repo, "", imgspecv1.MediaTypeImageManifest, raw)
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.Digest(d), Size: int64(len(raw)),
		ArtifactType: artifactType, Annotations: map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
}

// pushRefFixture stores an image tagged v1, a signature and an SBOM
// referring to it, a signature of the SBOM, and a cosign .sig digest tag.
// withIndex also writes the tag-schema indexes, as clients do on a registry
// without the referrers API.
func pushRefFixture(s *registrystub.Stub, repo string, withIndex bool) refFixture {
	img := pushArtifact(s, repo, "", "", "image layer")
	raw, _ := s.Manifest(repo, img.Digest.String())
	s.PutManifest(repo, "v1", imgspecv1.MediaTypeImageManifest, raw)
	f := refFixture{image: img.Digest.String()}
	f.sig = pushArtifact(s, repo, f.image, "application/vnd.example.sig", "signature")
	f.sbom = pushArtifact(s, repo, f.image, "application/spdx+json", "sbom")
	f.sbomSig = pushArtifact(s, repo, f.sbom.Digest.String(), "application/vnd.example.sig", "signature of the sbom")
	cosign := pushArtifact(s, repo, "", "", "cosign signature")
	raw, _ = s.Manifest(repo, cosign.Digest.String())
	s.PutManifest(repo, strings.Replace(f.image, ":", "-", 1)+".sig", imgspecv1.MediaTypeImageManifest, raw)
	f.cosign = cosign.Digest.String()
	if withIndex {
		writeIndex(s, repo, f.image, f.sig, f.sbom)
		writeIndex(s, repo, f.sbom.Digest.String(), f.sbomSig)
	}
	return f
}

func writeIndex(s *registrystub.Stub, repo, subject string, descs ...imgspecv1.Descriptor) {
	ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: descs}
	ix.SchemaVersion = 2
	raw, _ := json.Marshal(ix)
	s.PutManifest(repo, registry.ReferrersTag(digest.Digest(subject)), imgspecv1.MediaTypeImageIndex, raw)
}

// readIndex returns the digests the tag-schema index of subject lists,
// failing on a duplicate, or nil when there is no index.
func readIndex(t *testing.T, s *registrystub.Stub, repo, subject string) []string {
	t.Helper()
	raw, ok := s.Manifest(repo, registry.ReferrersTag(digest.Digest(subject)))
	if !ok {
		return nil
	}
	var ix imgspecv1.Index
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatal(err)
	}
	if ix.SchemaVersion != 2 || ix.MediaType != imgspecv1.MediaTypeImageIndex {
		t.Errorf("index of %s: schemaVersion %d mediaType %q", subject, ix.SchemaVersion, ix.MediaType)
	}
	var out []string
	for _, d := range ix.Manifests {
		if d.ArtifactType == "" || d.Size == 0 {
			t.Errorf("index of %s: entry %s without artifactType or size", subject, d.Digest)
		}
		out = append(out, d.Digest.String())
	}
	sorted := slices.Sorted(slices.Values(out))
	if len(slices.Compact(slices.Clone(sorted))) != len(out) {
		t.Errorf("index of %s lists a digest twice: %v", subject, out)
	}
	return sorted
}

func sortedDigests(descs ...imgspecv1.Descriptor) []string {
	var out []string
	for _, d := range descs {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}

func endpoint(s *registrystub.Stub, repo string) Endpoint {
	return Endpoint{Client: registry.New(s.Host, nil, registry.Options{Insecure: true}), Repository: repo}
}

func copyWithReferrers(t *testing.T, src, dst *registrystub.Stub) Result {
	t.Helper()
	res, err := Copy(context.Background(), endpoint(src, "app"), "v1", endpoint(dst, "mirror"), "v1", Options{Referrers: true}, &Stats{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func checkHolds(t *testing.T, s *registrystub.Stub, repo string, digests ...string) {
	t.Helper()
	for _, d := range digests {
		if _, ok := s.Manifest(repo, d); !ok {
			t.Errorf("%s lacks %s", repo, d)
		}
	}
}

// TestCopyReferrersAPIToTagSchema: referrers read through the API (over two
// pages), referrers of referrers and a cosign tag reach a destination
// without the API, which gets a tag-schema index per subject; a second copy
// writes no index again and duplicates nothing.
func TestCopyReferrersAPIToTagSchema(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{ReferrersAPI: true, PageSize: 1})
	dst := registrystub.Start(t, registrystub.Options{})
	f := pushRefFixture(src, "app", false)

	res := copyWithReferrers(t, src, dst)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	checkHolds(t, dst, "mirror", f.image, f.sig.Digest.String(), f.sbom.Digest.String(), f.sbomSig.Digest.String(), f.cosign)
	if _, ok := dst.Manifest("mirror", strings.Replace(f.image, ":", "-", 1)+".sig"); !ok {
		t.Error("the cosign .sig tag was not copied")
	}
	if got, want := readIndex(t, dst, "mirror", f.image), sortedDigests(f.sig, f.sbom); !slices.Equal(got, want) {
		t.Errorf("index of the image lists %v, want %v", got, want)
	}
	if got, want := readIndex(t, dst, "mirror", f.sbom.Digest.String()), sortedDigests(f.sbomSig); !slices.Equal(got, want) {
		t.Errorf("index of the sbom lists %v, want %v", got, want)
	}
	if n := src.Count(http.MethodGet, "/referrers/"+f.image+"?page=1"); n != 1 {
		t.Errorf("the second page of the image's referrers was read %d times, want 1", n)
	}

	before := dst.Count(http.MethodPut, "/manifests/sha256-")
	res = copyWithReferrers(t, src, dst)
	if len(res.Warnings) > 0 {
		t.Errorf("second copy warnings: %v", res.Warnings)
	}
	if n := dst.Count(http.MethodPut, "/manifests/sha256-") - before; n != 1 {
		// Only the cosign tag is put again (Transfer always re-tags).
		t.Errorf("second copy made %d tag PUTs, want 1 (the cosign tag, no index)", n)
	}
	if got := readIndex(t, dst, "mirror", f.image); len(got) != 2 {
		t.Errorf("after a second copy the image's index lists %v", got)
	}
}

// TestCopyReferrersTagSchemaToAPI: on a source without the API the
// tag-schema indexes are read; a destination with the API gets the
// referrers, lists them itself, and no index tag is written.
func TestCopyReferrersTagSchemaToAPI(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	dst := registrystub.Start(t, registrystub.Options{ReferrersAPI: true})
	f := pushRefFixture(src, "app", true)

	res := copyWithReferrers(t, src, dst)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	checkHolds(t, dst, "mirror", f.sig.Digest.String(), f.sbom.Digest.String(), f.sbomSig.Digest.String(), f.cosign)
	for _, tag := range dst.Tags("mirror") {
		if !strings.HasSuffix(tag, ".sig") && tag != "v1" {
			t.Errorf("destination with the referrers API got tag %s", tag)
		}
	}
	got, err := endpoint(dst, "mirror").Client.ReferrersAPI(context.Background(), "mirror", digest.Digest(f.image))
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedDigests(f.sig, f.sbom); !slices.Equal(sortedDigests(got...), want) {
		t.Errorf("destination's referrers API lists %v, want %v", sortedDigests(got...), want)
	}
	// One 404 tells the source has no API; the rest comes from tags.
	if n := src.Count(http.MethodGet, "/referrers/"); n != 1 {
		t.Errorf("%d referrers API requests to a source without it, want 1", n)
	}
}

// TestCopyReferrersMergesIndex: an index the destination already has keeps
// its entries; a referrer the source lists but cannot serve is left behind
// with a warning naming it, and is not listed.
func TestCopyReferrersMergesIndex(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	dst := registrystub.Start(t, registrystub.Options{})
	f := pushRefFixture(src, "app", true)
	missing := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("gone"), Size: 5, ArtifactType: "application/vnd.example.sig"}
	writeIndex(src, "app", f.image, f.sig, f.sbom, missing)
	theirs := pushArtifact(dst, "mirror", f.image, "application/vnd.example.vex", "already at the destination")
	writeIndex(dst, "mirror", f.image, theirs)

	res := copyWithReferrers(t, src, dst)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], missing.Digest.String()) {
		t.Errorf("warnings %q, want one naming %s", res.Warnings, missing.Digest)
	}
	if got, want := readIndex(t, dst, "mirror", f.image), sortedDigests(f.sig, f.sbom, theirs); !slices.Equal(got, want) {
		t.Errorf("index lists %v, want %v", got, want)
	}
}

// TestCopyWithoutReferrers: the normal path asks nothing about referrers.
func TestCopyWithoutReferrers(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{ReferrersAPI: true})
	dst := registrystub.Start(t, registrystub.Options{})
	pushRefFixture(src, "app", true)
	if _, err := Copy(context.Background(), endpoint(src, "app"), "v1", endpoint(dst, "mirror"), "v1", Options{}, &Stats{}); err != nil {
		t.Fatal(err)
	}
	// (The destination's tags/list?n=1 asks whether the repository is new.)
	for _, s := range []*registrystub.Stub{src, dst} {
		if n := s.Count(http.MethodGet, "/referrers/") + s.Count(http.MethodGet, "/v2/app/tags/list") + s.Count(http.MethodGet, "/manifests/sha256-"); n != 0 {
			t.Errorf("%d referrers or tag requests without --referrers:\n%s", n, strings.Join(s.Requests(), "\n"))
		}
	}
}

// TestCopyReferrersPlatformSubset: --platform writes another list, so what
// refers to the source list stays behind, with a warning naming it; what
// refers to a kept image is copied.
func TestCopyReferrersPlatformSubset(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{ReferrersAPI: true})
	dst := registrystub.Start(t, registrystub.Options{})
	amd := pushArtifact(src, "app", "", "", "amd64 layer")
	arm := pushArtifact(src, "app", "", "", "arm64 layer")
	amd.Platform = &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &imgspecv1.Platform{OS: "linux", Architecture: "arm64"}
	amd.ArtifactType, arm.ArtifactType, amd.Annotations, arm.Annotations = "", "", nil, nil
	ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{amd, arm}}
	ix.SchemaVersion = 2
	raw, _ := json.Marshal(ix)
	list := src.PutManifest("app", "v1", imgspecv1.MediaTypeImageIndex, raw)
	listSig := pushArtifact(src, "app", list, "application/vnd.example.sig", "signature of the whole list")
	amdSig := pushArtifact(src, "app", amd.Digest.String(), "application/vnd.example.sig", "signature of amd64")

	res, err := Copy(context.Background(), endpoint(src, "app"), "v1", endpoint(dst, "mirror"), "v1",
		Options{Referrers: true, Platforms: []imgspecv1.Platform{*amd.Platform}}, &Stats{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], list) || !strings.Contains(res.Warnings[0], "--platform") {
		t.Errorf("warnings %q, want one about the referrers of %s", res.Warnings, list)
	}
	checkHolds(t, dst, "mirror", amdSig.Digest.String())
	if _, ok := dst.Manifest("mirror", listSig.Digest.String()); ok {
		t.Error("the whole list's signature was copied to a list it does not sign")
	}
	if got := readIndex(t, dst, "mirror", amd.Digest.String()); !slices.Equal(got, sortedDigests(amdSig)) {
		t.Errorf("index of the amd64 image lists %v", got)
	}
}

// TestCopyReferrersBlobOnce: the image and its four referrers (two levels
// of them) share the empty config; one copy makes it present in the
// destination once (two requests name it: the one that finds it missing
// and the upload's PUT) however many manifests ask for it and in whichever order, so copies
// into fresh repositories make the same requests, run after run.
func TestCopyReferrersBlobOnce(t *testing.T) {
	src, dst := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: true}), newStubRegistry(t)
	pushRefFixture(src.Stub, "app", false)
	cfg := digest.FromString(emptyConfig).String()
	want := -1
	for i := range 5 {
		resetRequests(src, dst)
		repo := "mirror" + string(rune('0'+i))
		res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint(repo), "v1", Options{Referrers: true}, nil)
		if err != nil || len(res.Warnings) > 0 {
			t.Fatal(err, res.Warnings)
		}
		asks := 0
		for _, r := range dst.Log() {
			if q, _ := url.QueryUnescape(r.Query); strings.Contains(r.Path+"?"+q, cfg) {
				asks++
			}
		}
		if asks != 2 {
			t.Errorf("copy %d: %d requests of the destination name the empty config, want 2:\n%s", i, asks, requestLog(dst))
		}
		if want < 0 {
			want = count(src, dst)
		}
		if got := count(src, dst); got != want {
			t.Errorf("copy %d made %d requests, the first %d:\n%s", i, got, want, requestLog(src, dst))
		}
	}
}
