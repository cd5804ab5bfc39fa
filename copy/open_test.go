package copy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// TestOpenRegistryRequests: what Open reads from a registry, in exact
// requests: the top manifest alone; a list's entries each once, though the
// list names one twice; a single image's config only when its platform is
// asked for.
func TestOpenRegistryRequests(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	arm := mlPushImage(s, "app", "linux/arm64", "x")
	amd := mlPushImage(s, "app", "linux/amd64", "x")
	raw, _ := s.Manifest("app", arm.Digest.String())
	s.PutManifest("app", "arm", mlDockerImage, raw)
	listDigest := mlPushList(s, "app", "v1", arm, amd, amd)
	r := Readers{Session: mlSession()}
	ctx := context.Background()
	manifests := func() int { return s.Count("GET", "/manifests/") }
	blobs := func() int { return s.Count("GET", "/blobs/") }

	in, err := Resolve(s.Host+"/app:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(ctx, in, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Digest != listDigest || o.List == nil || len(o.List.Manifests) != 3 || manifests() != 1 {
		t.Fatalf("open: digest %s, %d manifest GETs; want %s read with one", o.Digest, manifests(), listDigest)
	}
	entries, err := o.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[2].Descriptor.Digest != amd.Digest || digest.FromBytes(entries[2].Raw) != amd.Digest || manifests() != 3 || blobs() != 0 {
		t.Errorf("entries: %d, %d manifest GETs and %d blob GETs; want 3 entries for 2 more manifest GETs and no blob", len(entries), manifests(), blobs())
	}

	in, _ = Resolve(s.Host+"/app:arm", nil)
	if o, err = Open(ctx, in, r, false); err != nil {
		t.Fatal(err)
	}
	if o.List != nil || manifests() != 4 || blobs() != 0 {
		t.Fatalf("open of an image: list %v, %d manifest and %d blob GETs", o.List, manifests(), blobs())
	}
	single, err := o.Single(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if manifestlist.FormatPlatform(single.Descriptor.Platform) != "linux/arm64" || blobs() != 1 {
		t.Errorf("single: platform %s after %d blob GETs; want linux/arm64 after its config", manifestlist.FormatPlatform(single.Descriptor.Platform), blobs())
	}

	in, _ = Resolve(s.Host+"/app:nope", nil)
	if o, err = Open(ctx, in, r, true); err != nil || !o.Missing {
		t.Errorf("open of a missing tag with missingOK: %v, missing %v", err, o != nil && o.Missing)
	}
	if _, err = Open(ctx, in, r, false); err == nil {
		t.Error("open of a missing tag: no error")
	}
}

// TestOpenLayout: a list copied into an OCI layout opens with the
// registry's digest and entries, verifies clean, and verify --deep names a
// layer removed from the layout.
func TestOpenLayout(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	arm := mlPushImage(s, "app", "linux/arm64", "x")
	amd := mlPushImage(s, "app", "linux/amd64", "x")
	listDigest := mlPushList(s, "app", "v1", arm, amd)
	ctx := context.Background()
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	dir := filepath.Join(t.TempDir(), "layout")
	layout, err := ParseLocation("oci:" + dir + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopySides(ctx, Side{Endpoint: &Endpoint{Client: c, Repository: "app"}, Ref: "v1"}, Side{Local: &layout}, Options{}, nil); err != nil {
		t.Fatal(err)
	}

	in, err := Resolve("oci:"+dir+":v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(ctx, in, Readers{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	entries, err := o.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Digest != listDigest || len(entries) != 2 || entries[1].Descriptor.Digest != amd.Digest || entries[1].Source != "oci:"+dir+":v1@"+amd.Digest.String() {
		t.Fatalf("layout opened as %s with %d entries, want %s with 2", o.Digest, len(entries), listDigest)
	}
	report, err := o.Verify(ctx, Readers{}, VerifyOptions{Deep: true})
	if err != nil || !report.OK() || report.Source != "oci" || report.Digest != listDigest {
		t.Fatalf("verify --deep of the layout: %+v, %v", report, err)
	}

	var m struct {
		Layers []struct{ Digest digest.Digest }
	}
	mraw, _ := s.Manifest("app", amd.Digest.String())
	if err := json.Unmarshal(mraw, &m); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	report, err = o.Verify(ctx, Readers{}, VerifyOptions{Deep: true})
	if err != nil || len(report.Problems) != 1 || report.Problems[0].Kind != ProblemMissing || report.Problems[0].Digest != amd.Digest {
		t.Errorf("verify --deep with a layer gone: %+v, %v; want one missing-blob problem of %s", report, err, amd.Digest)
	}
}
