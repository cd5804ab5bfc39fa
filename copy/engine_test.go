package copy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// graph builds manifests in a stub repository. Lists are indented (as
// `docker manifest push` writes them), so any re-serialisation shows as a
// changed digest.
type graph struct {
	t    *testing.T
	s    *registrystub.Stub
	repo string
}

const dockerConfigType = "application/vnd.docker.container.image.v1+json"

// image pushes an image of the given manifest type (Docker v2s2 or OCI)
// and returns its descriptor with the platform.
func (g graph) image(mt, arch string) imgspecv1.Descriptor {
	cfg := []byte(`{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	lay := []byte("layer of " + arch + " " + mt)
	cfgType, layType := imgspecv1.MediaTypeImageConfig, imgspecv1.MediaTypeImageLayerGzip
	if mt == manifest.DockerV2Schema2MediaType {
		cfgType, layType = dockerConfigType, manifest.DockerV2Schema2LayerMediaType
	}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": mt,
		"config": map[string]any{"mediaType": cfgType, "digest": g.s.PutBlob(g.repo, cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": layType, "digest": g.s.PutBlob(g.repo, lay), "size": len(lay)}},
	}
	raw, _ := json.MarshalIndent(m, "", "   ")
	d := g.s.PutManifest(g.repo, "", mt, raw)
	return imgspecv1.Descriptor{MediaType: mt, Digest: digest.Digest(d), Size: int64(len(raw)), Platform: &imgspecv1.Platform{OS: "linux", Architecture: arch}}
}

// attestation pushes a BuildKit attestation manifest of subject.
func (g graph) attestation(subject imgspecv1.Descriptor) imgspecv1.Descriptor {
	cfg := []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`)
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":"` + subject.Digest.String() + `"}`)
	m := map[string]any{
		"schemaVersion": 2, "mediaType": imgspecv1.MediaTypeImageManifest,
		"config": map[string]any{"mediaType": imgspecv1.MediaTypeImageConfig, "digest": g.s.PutBlob(g.repo, cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.in-toto+json", "digest": g.s.PutBlob(g.repo, stmt), "size": len(stmt),
			"annotations": map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}},
	}
	raw, _ := json.MarshalIndent(m, "", "   ")
	d := g.s.PutManifest(g.repo, "", imgspecv1.MediaTypeImageManifest, raw)
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.Digest(d), Size: int64(len(raw)),
		Platform:    &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{manifestlist.AnnotationReferenceType: "attestation-manifest", manifestlist.AnnotationReferenceDigest: subject.Digest.String()}}
}

// list pushes a list of entries, tagged tag unless "".
func (g graph) list(mt, tag string, entries ...imgspecv1.Descriptor) imgspecv1.Descriptor {
	type entry struct {
		MediaType   string              `json:"mediaType"`
		Digest      digest.Digest       `json:"digest"`
		Size        int64               `json:"size"`
		Annotations map[string]string   `json:"annotations,omitempty"`
		Platform    *imgspecv1.Platform `json:"platform,omitempty"`
	}
	var es []entry
	for _, e := range entries {
		es = append(es, entry{e.MediaType, e.Digest, e.Size, e.Annotations, e.Platform})
	}
	raw, _ := json.MarshalIndent(map[string]any{"schemaVersion": 2, "mediaType": mt, "manifests": es}, "", "   ")
	d := g.s.PutManifest(g.repo, tag, mt, raw)
	return imgspecv1.Descriptor{MediaType: mt, Digest: digest.Digest(d), Size: int64(len(raw))}
}

func localSys(t *testing.T) *types.SystemContext {
	return &types.SystemContext{BigFilesTemporaryDir: t.TempDir(), SystemRegistriesConfPath: os.DevNull, RegistriesDirPath: t.TempDir()}
}

func regSide(s *registrystub.Stub, repo, ref string) Side {
	ep := endpoint(s, repo)
	return Side{Endpoint: &ep, Ref: ref}
}

func localSide(t *testing.T, loc string) Side {
	t.Helper()
	l, err := ParseLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	return Side{Local: &l}
}

// holdsGraph fails t unless s/repo holds every manifest of the graph under
// root (read from from/fromRepo) with its bytes, and every blob.
func holdsGraph(t *testing.T, from *registrystub.Stub, fromRepo string, s *registrystub.Stub, repo string, root digest.Digest) {
	t.Helper()
	raw, ok := from.Manifest(fromRepo, root.String())
	if !ok {
		t.Fatalf("fixture lacks %s", root)
	}
	got, ok := s.Manifest(repo, root.String())
	if !ok || !bytes.Equal(got, raw) {
		t.Fatalf("destination lacks %s or holds other bytes", root)
	}
	p, err := manifestlist.Parse(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind == manifestlist.KindList {
		for _, d := range p.List.Manifests {
			holdsGraph(t, from, fromRepo, s, repo, d.Digest)
		}
		return
	}
	ep := endpoint(s, repo) // the stub has no blob accessor: ask it over HTTP
	for _, b := range p.Blobs {
		if ok, err := ep.Client.BlobExists(context.Background(), repo, b.Digest); err != nil || !ok {
			t.Errorf("destination lacks blob %s of %s", b.Digest, root)
		}
	}
}

// noWrites fails t if s received any request that writes.
func noWrites(t *testing.T, s *registrystub.Stub) {
	t.Helper()
	for _, r := range s.Requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("destination received a write: %s", r)
		}
	}
}

// TestNestedIndexToLayoutAndBack copies an index holding an index to each
// local layout transport and back to a registry: every manifest of the
// inner index is written (containers/image's copy left them out), and the
// copy back has the same digest.
func TestNestedIndexToLayoutAndBack(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a, b := g.image(imgspecv1.MediaTypeImageManifest, "amd64"), g.image(imgspecv1.MediaTypeImageManifest, "arm64")
	inner := g.list(imgspecv1.MediaTypeImageIndex, "", a, b, g.attestation(a))
	c := g.image(imgspecv1.MediaTypeImageManifest, "s390x")
	outer := g.list(imgspecv1.MediaTypeImageIndex, "v1", inner, c)

	for _, transport := range []string{"oci:", "oci-archive:"} {
		t.Run(transport, func(t *testing.T) {
			loc := transport + filepath.Join(t.TempDir(), "layout") + ":v1"
			opts := Options{SystemContext: localSys(t)}
			res, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, loc), opts, nil)
			if err != nil || res.Digest != outer.Digest {
				t.Fatalf("copy to %s = %s, %v; want %s", loc, res.Digest, err, outer.Digest)
			}
			back := registrystub.Start(t, registrystub.Options{})
			res, err = CopySides(context.Background(), localSide(t, loc), regSide(back, "app", "v1"), opts, nil)
			if err != nil || res.Digest != outer.Digest {
				t.Fatalf("copy back = %s, %v; want %s", res.Digest, err, outer.Digest)
			}
			holdsGraph(t, src, "app", back, "app", outer.Digest)
			if raw, _ := back.Manifest("app", "v1"); digest.FromBytes(raw) != outer.Digest {
				t.Errorf("v1 in the registry is %s, want %s", digest.FromBytes(raw), outer.Digest)
			}
		})
	}
}

// TestDockerListToLayoutByteIdentical stores a Docker-typed list in an OCI
// layout unchanged (no conversion, no refusal) and copies it back with the
// same digest.
func TestDockerListToLayoutByteIdentical(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	list := g.list(manifest.DockerV2ListMediaType, "v1", g.image(manifest.DockerV2Schema2MediaType, "amd64"), g.image(manifest.DockerV2Schema2MediaType, "arm64"))
	raw, _ := src.Manifest("app", "v1")

	dir := filepath.Join(t.TempDir(), "layout")
	opts := Options{SystemContext: localSys(t)}
	if _, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, "oci:"+dir+":v1"), opts, nil); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", list.Digest.Encoded()))
	if err != nil || !bytes.Equal(stored, raw) {
		t.Fatalf("layout blob of the list: %v; bytes equal: %v", err, bytes.Equal(stored, raw))
	}
	var idx imgspecv1.Index
	indexJSON, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(indexJSON, &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != list.Digest || idx.Manifests[0].MediaType != manifest.DockerV2ListMediaType {
		t.Fatalf("index.json = %s, want one Docker list entry %s", indexJSON, list.Digest)
	}
	back := registrystub.Start(t, registrystub.Options{})
	res, err := CopySides(context.Background(), localSide(t, "oci:"+dir+":v1"), regSide(back, "app", "v1"), opts, nil)
	if err != nil || res.Digest != list.Digest {
		t.Fatalf("copy back = %s, %v; want %s", res.Digest, err, list.Digest)
	}
	holdsGraph(t, src, "app", back, "app", list.Digest)
}

// TestConvertAttestedList converts an OCI index of Docker images with
// buildx attestations to OCI: the images get new digests, their configs
// keep theirs, the attestation manifests are carried unchanged and their
// entries point at the new image digests. To Docker it is refused before
// anything is written.
func TestConvertAttestedList(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a, b := g.image(manifest.DockerV2Schema2MediaType, "amd64"), g.image(manifest.DockerV2Schema2MediaType, "arm64")
	attA, attB := g.attestation(a), g.attestation(b)
	g.list(imgspecv1.MediaTypeImageIndex, "v1", a, b, attA, attB)

	dst := registrystub.Start(t, registrystub.Options{})
	res, err := CopySides(context.Background(), regSide(src, "app", "v1"), regSide(dst, "app", "v1"), Options{MediaType: "oci"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := dst.Manifest("app", "v1")
	if digest.FromBytes(raw) != res.Digest {
		t.Fatalf("v1 is not the digest reported")
	}
	l, err := manifestlist.ParseList(raw, imgspecv1.MediaTypeImageIndex)
	if err != nil {
		t.Fatal(err)
	}
	newOf := map[digest.Digest]digest.Digest{}
	for i, old := range []imgspecv1.Descriptor{a, b} {
		e := l.Manifests[i]
		if e.Digest == old.Digest || e.MediaType != imgspecv1.MediaTypeImageManifest {
			t.Fatalf("entry %d = %s %s, want a new OCI manifest", i, e.Digest, e.MediaType)
		}
		newOf[old.Digest] = e.Digest
		childRaw, _ := dst.Manifest("app", e.Digest.String())
		var m imgspecv1.Manifest
		_ = json.Unmarshal(childRaw, &m)
		oldRaw, _ := src.Manifest("app", old.Digest.String())
		var om imgspecv1.Manifest
		_ = json.Unmarshal(oldRaw, &om)
		if m.Config.Digest != om.Config.Digest || m.Config.MediaType != imgspecv1.MediaTypeImageConfig || m.Layers[0].MediaType != imgspecv1.MediaTypeImageLayerGzip {
			t.Errorf("converted %s: config %s %s, layer %s; want config %s unchanged in OCI types", e.Digest, m.Config.Digest, m.Config.MediaType, m.Layers[0].MediaType, om.Config.Digest)
		}
	}
	for i, att := range []imgspecv1.Descriptor{attA, attB} {
		e := l.Manifests[2+i]
		subject := digest.Digest(att.Annotations[manifestlist.AnnotationReferenceDigest])
		if e.Digest != att.Digest || e.Annotations[manifestlist.AnnotationReferenceDigest] != newOf[subject].String() {
			t.Errorf("attestation entry = %s -> %s; want %s -> %s", e.Digest, e.Annotations[manifestlist.AnnotationReferenceDigest], att.Digest, newOf[subject])
		}
		if _, ok := dst.Manifest("app", att.Digest.String()); !ok {
			t.Errorf("attestation manifest %s not copied", att.Digest)
		}
	}

	refused := registrystub.Start(t, registrystub.Options{})
	_, err = CopySides(context.Background(), regSide(src, "app", "v1"), regSide(refused, "app", "v1"), Options{MediaType: "docker"}, nil)
	if err == nil || !strings.Contains(err.Error(), attA.Digest.String()) || !strings.Contains(err.Error(), "attestation") {
		t.Fatalf("conversion to docker: error = %v, want a refusal naming attestation %s", err, attA.Digest)
	}
	noWrites(t, refused)
}

// TestConvertRefusedForSignedChild refuses a conversion when one child of
// the list is signed or attested by any of the three schemes; nothing is
// written.
func TestConvertRefusedForSignedChild(t *testing.T) {
	tests := map[string]struct {
		api  bool
		sign func(s *registrystub.Stub, child digest.Digest)
		want string
	}{
		"cosign tag": {sign: func(s *registrystub.Stub, child digest.Digest) {
			sig := pushArtifact(s, "app", "", "", "cosign signature")
			raw, _ := s.Manifest("app", sig.Digest.String())
			s.PutManifest("app", "sha256-"+child.Encoded()+".sig", imgspecv1.MediaTypeImageManifest, raw)
		}, want: ".sig"},
		"cosign sbom tag": {sign: func(s *registrystub.Stub, child digest.Digest) {
			sig := pushArtifact(s, "app", "", "", "sbom")
			raw, _ := s.Manifest("app", sig.Digest.String())
			s.PutManifest("app", "sha256-"+child.Encoded()+".sbom", imgspecv1.MediaTypeImageManifest, raw)
		}, want: ".sbom"},
		"referrers API": {api: true, sign: func(s *registrystub.Stub, child digest.Digest) {
			pushArtifact(s, "app", child.String(), "application/vnd.example.sig", "signature")
		}, want: "referrers"},
		"referrers tag schema": {sign: func(s *registrystub.Stub, child digest.Digest) {
			sig := pushArtifact(s, "app", child.String(), "application/vnd.example.sig", "signature")
			writeIndex(s, "app", child.String(), sig)
		}, want: "tag schema"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := registrystub.Start(t, registrystub.Options{ReferrersAPI: tc.api})
			g := graph{t, src, "app"}
			a, b := g.image(manifest.DockerV2Schema2MediaType, "amd64"), g.image(manifest.DockerV2Schema2MediaType, "arm64")
			g.list(manifest.DockerV2ListMediaType, "v1", a, b)
			tc.sign(src, b.Digest)
			dst := registrystub.Start(t, registrystub.Options{})
			_, err := CopySides(context.Background(), regSide(src, "app", "v1"), regSide(dst, "app", "v1"), Options{MediaType: "oci"}, nil)
			if err == nil || !strings.Contains(err.Error(), b.Digest.String()) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a refusal naming %s and %q", err, b.Digest, tc.want)
			}
			noWrites(t, dst)
		})
	}
}

// TestDryRunWritesNothing plans a copy to a registry and to a layout: the
// plan lists every manifest and blob, and nothing is written.
func TestDryRunWritesNothing(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a := g.image(imgspecv1.MediaTypeImageManifest, "amd64")
	list := g.list(imgspecv1.MediaTypeImageIndex, "v1", a, g.image(imgspecv1.MediaTypeImageManifest, "arm64"))
	dst := registrystub.Start(t, registrystub.Options{})
	// The destination already holds one blob: the plan says so.
	cfgRaw, _ := src.Manifest("app", a.Digest.String())
	p, _ := manifestlist.Parse(cfgRaw, "")
	ep := endpoint(src, "app")
	layerBytes, _ := ep.Client.ReadBlob(context.Background(), "app", p.Blobs[1].Digest, 1<<20)
	dst.PutBlob("app", layerBytes)
	dst.PutManifest("app", "other", imgspecv1.MediaTypeImageManifest, []byte(`{"schemaVersion":2}`))

	res, err := CopySides(context.Background(), regSide(src, "app", "v1"), regSide(dst, "app", "v1"), Options{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	noWrites(t, dst)
	plan := res.Plan
	if plan == nil || plan.Digest != list.Digest || len(plan.Manifests) != 3 || len(plan.Blobs) != 4 {
		t.Fatalf("plan = %+v, want 3 manifests and 4 blobs of %s", plan, list.Digest)
	}
	present := 0
	for _, b := range plan.Blobs {
		if b.Action == "present" {
			present++
			if b.Digest != p.Blobs[1].Digest {
				t.Errorf("blob %s planned as present", b.Digest)
			}
		}
	}
	if present != 1 {
		t.Errorf("%d blobs planned as present, want 1", present)
	}
	if n := countActions(plan.Manifests, actionPut); n != 3 {
		t.Errorf("%d manifests to put, want 3", n)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, "oci:"+dir+":v1"), Options{DryRun: true, SystemContext: localSys(t)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run to a layout created %s (%v)", dir, err)
	}
}

// TestDockerArchiveNeedsOnePlatform: a docker-archive holds one image; a
// list without --platform is refused saying so, with one it is written.
func TestDockerArchiveNeedsOnePlatform(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a := g.image(imgspecv1.MediaTypeImageManifest, "amd64")
	g.list(imgspecv1.MediaTypeImageIndex, "v1", a, g.image(imgspecv1.MediaTypeImageManifest, "arm64"))
	file := filepath.Join(t.TempDir(), "app.tar")
	opts := Options{SystemContext: localSys(t)}
	_, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, "docker-archive:"+file), opts, nil)
	if err == nil || !strings.Contains(err.Error(), "--platform") {
		t.Fatalf("error = %v, want one asking for --platform", err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("an archive was left behind")
	}
	opts.Platforms = []imgspecv1.Platform{{OS: "linux", Architecture: "amd64"}}
	if _, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, "docker-archive:"+file), opts, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("archive not written: %v", err)
	}
}

// TestLocalSourceCorruptLayer copies a layout whose layer file was damaged
// (same size, one bit flipped) to every kind of destination: each copy
// fails naming the layer, nothing is tagged and no archive is left.
func TestLocalSourceCorruptLayer(t *testing.T) {
	src := registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a := g.image(imgspecv1.MediaTypeImageManifest, "amd64")
	g.list(imgspecv1.MediaTypeImageIndex, "v1", a, g.image(imgspecv1.MediaTypeImageManifest, "arm64"))
	layout := filepath.Join(t.TempDir(), "layout")
	opts := Options{SystemContext: localSys(t)}
	if _, err := CopySides(context.Background(), regSide(src, "app", "v1"), localSide(t, "oci:"+layout+":v1"), opts, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := src.Manifest("app", a.Digest.String())
	p, _ := manifestlist.Parse(raw, "")
	bad := p.Blobs[1].Digest
	file := filepath.Join(layout, "blobs", "sha256", bad.Encoded())
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	reg := registrystub.Start(t, registrystub.Options{})
	tests := map[string]struct {
		dst       Side
		platforms []imgspecv1.Platform
		check     func(t *testing.T)
	}{
		"registry": {dst: regSide(reg, "app", "v1"), check: func(t *testing.T) {
			if _, ok := reg.Manifest("app", "v1"); ok {
				t.Error("the registry was tagged v1")
			}
		}},
		"oci-archive": {dst: localSide(t, "oci-archive:"+filepath.Join(dir, "oci.tar")+":v1"), check: func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "oci.tar")); err == nil {
				t.Error("an archive was left behind")
			}
		}},
		"docker-archive": {dst: localSide(t, "docker-archive:"+filepath.Join(dir, "docker.tar")), platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "amd64"}}, check: func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "docker.tar")); err == nil {
				t.Error("an archive was left behind")
			}
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := opts
			o.Platforms = tc.platforms
			_, err := CopySides(context.Background(), localSide(t, "oci:"+layout+":v1"), tc.dst, o, nil)
			var corrupt *CorruptError
			if !errors.As(err, &corrupt) || corrupt.Digest != bad {
				t.Fatalf("error = %v, want a corrupt blob %s", err, bad)
			}
			tc.check(t)
		})
	}
}
