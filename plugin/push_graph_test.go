package plugin

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// repeatedDraft stores in s's repository "src" images A and B and an index
// naming both 100 times each, and returns a draft's entries naming that
// index and A, 50 times each, with the list they make.
func repeatedDraft(t *testing.T, s *registrystub.Stub) (entries []manifestlist.Entry, raw []byte, mt string, distinct []string) {
	t.Helper()
	var images []imgspecv1.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := []byte(`{"os":"linux","architecture":"` + arch + `"}`)
		layer := []byte("layer for " + arch)
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": imgspecv1.MediaTypeImageManifest,
			"config": map[string]any{"mediaType": imgspecv1.MediaTypeImageConfig, "digest": s.PutBlob("src", cfg), "size": len(cfg)},
			"layers": []any{map[string]any{"mediaType": imgspecv1.MediaTypeImageLayerGzip, "digest": s.PutBlob("src", layer), "size": len(layer)}},
		})
		d := s.PutManifest("src", "", imgspecv1.MediaTypeImageManifest, m)
		images = append(images, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.Digest(d), Size: int64(len(m)),
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: arch}})
		distinct = append(distinct, d)
	}
	ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex}
	ix.SchemaVersion = 2
	for range 100 {
		ix.Manifests = append(ix.Manifests, images...)
	}
	ixRaw, _ := json.Marshal(ix)
	ixDigest := s.PutManifest("src", "", imgspecv1.MediaTypeImageIndex, ixRaw)
	distinct = append(distinct, ixDigest)
	aRaw, _ := s.Manifest("src", images[0].Digest.String())
	nested := manifestlist.Entry{Source: s.Host + "/src@" + ixDigest, Raw: ixRaw,
		Descriptor: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: digest.Digest(ixDigest), Size: int64(len(ixRaw))}}
	a := manifestlist.Entry{Source: s.Host + "/src@" + images[0].Digest.String(), Raw: aRaw, Descriptor: images[0]}
	top := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex}
	top.SchemaVersion = 2
	for range 50 {
		entries = append(entries, nested, a)
		top.Manifests = append(top.Manifests, nested.Descriptor, a.Descriptor)
	}
	raw, _ = json.Marshal(top)
	return entries, raw, imgspecv1.MediaTypeImageIndex, distinct
}

// TestPushRepeatedEntries: a draft that repeats a nested index and an
// image is pushed, and planned with --dry-run, with one lookup per
// distinct manifest and one write of each.
func TestPushRepeatedEntries(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	entries, raw, mt, distinct := repeatedDraft(t, s)
	target, err := registry.ParseReference(s.Host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	sess := registry.NewSession(func(string) (registry.Options, error) { return registry.Options{Insecure: true}, nil })

	plan, err := planPush(context.Background(), sess, target, entries, raw, mt, nil)
	if err != nil {
		t.Fatal(err)
	}
	nested, a := distinct[2], distinct[0]
	for _, d := range []string{nested, a} {
		if n := s.Count("HEAD", "/v2/app/manifests/"+d); n != 1 {
			t.Errorf("the plan looked %s up %d times, want once", d, n)
		}
	}
	// Once per distinct entry: the image's HEAD, a mount per blob and its
	// put; the index's HEAD and put. Then the list's put and the probe of
	// the repository.
	if want := (1 + 2 + 1) + (1 + 1) + 1 + 1; plan.Requests != want {
		t.Errorf("plan estimates %d requests, want %d", plan.Requests, want)
	}

	if _, err := pushList(context.Background(), sess, target, entries, raw, mt, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, d := range distinct {
		if n := s.Count("PUT", "/v2/app/manifests/"+d); n != 1 {
			t.Errorf("%d PUTs of %s, want 1", n, d)
		}
		if n := s.Count("GET", "/v2/src/manifests/"+d); n > 1 {
			t.Errorf("%d GETs of %s, want at most 1", n, d)
		}
	}
	if n := s.Count("POST", "mount="); n != 4 {
		t.Errorf("%d mounts asked for, want 4 (a config and a layer of each image)", n)
	}
}
