package copy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// stubImage pushes an OCI image whose config says platform cfg into repo of
// s, and returns its descriptor with platform listed (what the list says).
func stubImage(s *registrystub.Stub, repo, cfg, listed, seed string) (imgspecv1.Descriptor, []byte) {
	p, err := manifestlist.ParsePlatform(cfg)
	if err != nil {
		panic(err)
	}
	cb, _ := json.Marshal(map[string]any{"os": p.OS, "architecture": p.Architecture, "variant": p.Variant, "rootfs": map[string]any{"type": "layers"}})
	layer := []byte("layer " + seed)
	m := imgspecv1.Manifest{MediaType: imgspecv1.MediaTypeImageManifest,
		Config: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: digest.Digest(s.PutBlob(repo, cb)), Size: int64(len(cb))},
		Layers: []imgspecv1.Descriptor{{MediaType: imgspecv1.MediaTypeImageLayerGzip, Digest: digest.Digest(s.PutBlob(repo, layer)), Size: int64(len(layer))}}}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	d := digest.Digest(s.PutManifest(repo, "", imgspecv1.MediaTypeImageManifest, raw))
	lp, _ := manifestlist.ParsePlatform(listed)
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: d, Size: int64(len(raw)), Platform: &lp}, raw
}

func stubAttestation(s *registrystub.Stub, repo string, subject digest.Digest) imgspecv1.Descriptor {
	cb := []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers"}}`)
	m := imgspecv1.Manifest{MediaType: imgspecv1.MediaTypeImageManifest,
		Config: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: digest.Digest(s.PutBlob(repo, cb)), Size: int64(len(cb))}}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	d := digest.Digest(s.PutManifest(repo, "", imgspecv1.MediaTypeImageManifest, raw))
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: d, Size: int64(len(raw)),
		Platform:    &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{manifestlist.AnnotationReferenceType: "attestation-manifest", manifestlist.AnnotationReferenceDigest: subject.String()}}
}

func putIndex(s *registrystub.Stub, repo, tag string, ms ...imgspecv1.Descriptor) {
	raw, _ := json.Marshal(imgspecv1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex, Manifests: ms})
	s.PutManifest(repo, tag, imgspecv1.MediaTypeImageIndex, raw)
}

func kinds(r *Report) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, string(p.Kind)+" "+p.Platform)
	}
	return out
}

func TestVerify(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	ep := Endpoint{Client: c, Repository: "app"}
	amd, _ := stubImage(s, "app", "linux/amd64", "linux/amd64", "amd")
	arm, _ := stubImage(s, "app", "linux/arm64", "linux/arm64", "arm")
	mislabelled, _ := stubImage(s, "app", "linux/arm64", "linux/amd64/v2", "mislabelled")
	armv7, _ := stubImage(s, "app", "linux/arm/v7", "linux/arm/v7", "armv7")
	noVariant, _ := stubImage(s, "app", "linux/arm64", "linux/arm64/v8", "novariant")
	att := stubAttestation(s, "app", amd.Digest)
	orphan := stubAttestation(s, "app", digest.FromString("gone"))
	elsewhere, _ := stubImage(s, "other", "linux/s390x", "linux/s390x", "elsewhere")
	wrongSize := arm
	wrongSize.Size++
	// An image whose layer is missing: only --deep sees it.
	lacking, lackingRaw := stubImage(s, "lacking", "linux/ppc64le", "linux/ppc64le", "lacking")
	s.PutManifest("app", "", imgspecv1.MediaTypeImageManifest, lackingRaw)
	var cfgOnly imgspecv1.Manifest
	_ = json.Unmarshal(lackingRaw, &cfgOnly)
	cfgBlob, _ := registryBlob(s, "lacking", cfgOnly.Config.Digest)
	s.PutBlob("app", cfgBlob)

	for name, tc := range map[string]struct {
		entries []imgspecv1.Descriptor
		deep    bool
		want    []string
	}{
		"a good list":               {entries: []imgspecv1.Descriptor{amd, arm, armv7, att}},
		"variant only where config": {entries: []imgspecv1.Descriptor{noVariant}},
		"mislabelled platform":      {entries: []imgspecv1.Descriptor{amd, mislabelled}, want: []string{"platform linux/amd64/v2"}},
		"duplicate platforms":       {entries: []imgspecv1.Descriptor{arm, noVariant}, want: []string{"duplicate-platform linux/arm64"}},
		"entry missing":             {entries: []imgspecv1.Descriptor{amd, elsewhere}, want: []string{"missing linux/s390x"}},
		"orphan attestation":        {entries: []imgspecv1.Descriptor{amd, att, orphan}, want: []string{"orphan-attestation "}},
		"size mismatch":             {entries: []imgspecv1.Descriptor{amd, wrongSize}, want: []string{"size-mismatch linux/arm64"}},
		"layer missing, shallow":    {entries: []imgspecv1.Descriptor{amd, lacking}},
		"layer missing, deep":       {entries: []imgspecv1.Descriptor{amd, lacking}, deep: true, want: []string{"missing linux/ppc64le"}},
	} {
		t.Run(name, func(t *testing.T) {
			tag := strings.ReplaceAll(name, " ", "-")
			tag = strings.ReplaceAll(tag, ",", "")
			putIndex(s, "app", tag, tc.entries...)
			r, err := Verify(context.Background(), ep, tag, VerifyOptions{Deep: tc.deep})
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(r); !slices.Equal(got, tc.want) {
				t.Errorf("problems %q, want %q\n%v", got, tc.want, r.Problems)
			}
			if r.Entries != len(tc.entries) || r.OK() != (len(tc.want) == 0) {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func registryBlob(s *registrystub.Stub, repo string, d digest.Digest) ([]byte, error) {
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	return c.ReadBlob(context.Background(), repo, d, 1<<20)
}

// A registry that serves other bytes for a digest (here the stub flipping
// one through its hook) is a digest mismatch, not a failure to verify.
func TestVerifyDigestMismatch(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd, _ := stubImage(s, "app", "linux/amd64", "linux/amd64", "amd")
	arm, _ := stubImage(s, "app", "linux/arm64", "linux/arm64", "arm")
	putIndex(s, "app", "1", amd, arm)
	s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/manifests/"+arm.Digest.String()) {
			return false
		}
		mediaType, raw, _ := s.ManifestOf("app", arm.Digest.String())
		b := bytes.Replace(raw, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1)
		w.Header().Set("Content-Type", mediaType)
		w.Header().Set("Docker-Content-Digest", arm.Digest.String())
		_, _ = w.Write(b)
		return true
	})
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	r, err := Verify(context.Background(), Endpoint{Client: c, Repository: "app"}, "1", VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kinds(r), []string{"digest-mismatch linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestVerifyDraft(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	amd, amdRaw := stubImage(s, "src/amd", "linux/amd64", "linux/amd64", "amd")
	arm, armRaw := stubImage(s, "src/arm", "linux/arm64", "linux/arm/v7", "arm")
	d := &manifestlist.Draft{Name: s.Host + "/app:1", Entries: []manifestlist.Entry{
		{Source: s.Host + "/src/amd:1", Descriptor: amd, Raw: amdRaw},
		{Source: s.Host + "/src/arm:1", Descriptor: arm, Raw: armRaw},
	}}
	var asked []string
	endpoint := func(source string) (Endpoint, error) {
		asked = append(asked, source)
		r, err := registry.ParseReference(source)
		return Endpoint{Client: c, Repository: r.Repository}, err
	}
	r, err := VerifyDraft(context.Background(), d, endpoint, VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kinds(r), []string{"platform linux/arm/v7"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if len(asked) != 2 || r.Digest == "" {
		t.Errorf("endpoints asked for %q; report %+v", asked, r)
	}
	// A draft's entry whose bytes are not its digest's.
	d.Entries[0].Raw = append([]byte(nil), armRaw...)
	r, err = VerifyDraft(context.Background(), d, endpoint, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(r); !slices.Contains(got, "digest-mismatch linux/amd64") {
		t.Errorf("problems %q, want a digest mismatch of linux/amd64", got)
	}
}

// --deep descends nested indexes: an image missing two lists down is
// reported with the lists above it; without --deep, only the entries of the
// top list are looked for.
func TestVerifyNestedDeep(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	ep := Endpoint{Client: registry.New(s.Host, nil, registry.Options{Insecure: true}), Repository: "app"}
	amd, _ := stubImage(s, "app", "linux/amd64", "linux/amd64", "amd")
	arm, _ := stubImage(s, "app", "linux/arm64", "linux/arm64", "arm")
	gone, _ := stubImage(s, "other", "linux/s390x", "linux/s390x", "gone")
	index := func(ms ...imgspecv1.Descriptor) imgspecv1.Descriptor {
		raw, _ := json.Marshal(imgspecv1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex, Manifests: ms})
		d := s.PutManifest("app", "", imgspecv1.MediaTypeImageIndex, raw)
		return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: digest.Digest(d), Size: int64(len(raw))}
	}
	inner := index(arm, gone)
	middle := index(inner)
	putIndex(s, "app", "nested", amd, middle)

	r, err := Verify(context.Background(), ep, "nested", VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kinds(r), []string{"missing linux/s390x"}; !slices.Equal(got, want) {
		t.Fatalf("problems %q, want %q\n%v", got, want, r.Problems)
	}
	want := "entry linux/s390x (" + gone.Digest.String() + ") of nested list " + inner.Digest.String() + " of nested list " + middle.Digest.String() + ": manifest not in " + ep.String()
	if r.Problems[0].Message != want {
		t.Errorf("problem %q, want %q", r.Problems[0].Message, want)
	}
	if r, err := Verify(context.Background(), ep, "nested", VerifyOptions{}); err != nil || !r.OK() {
		t.Errorf("without --deep: %v %v", err, r.Problems)
	}
}
