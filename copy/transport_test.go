package copy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// writeLayout writes an OCI layout holding one image tagged v1 and returns
// the digest of its first layer.
func writeLayout(t *testing.T, dir string) (digest.Digest, digest.Digest) {
	t.Helper()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) imgspecv1.Descriptor {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return imgspecv1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	l1, l2 := put(layer("first layer ", 3000)), put(layer("second layer ", 2000))
	l1.MediaType, l2.MediaType = imgspecv1.MediaTypeImageLayer, imgspecv1.MediaTypeImageLayer
	cfg := put([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + l1.Digest.String() + `","` + l2.Digest.String() + `"]}}`))
	cfg.MediaType = imgspecv1.MediaTypeImageConfig
	m := imgspecv1.Manifest{MediaType: imgspecv1.MediaTypeImageManifest, Config: cfg, Layers: []imgspecv1.Descriptor{l1, l2}}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	md := put(raw)
	md.MediaType = imgspecv1.MediaTypeImageManifest
	md.Annotations = map[string]string{imgspecv1.AnnotationRefName: "v1"}
	idx := imgspecv1.Index{Manifests: []imgspecv1.Descriptor{md}}
	idx.SchemaVersion = 2
	rawIdx, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), rawIdx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return md.Digest, l1.Digest
}

func localOptions(t *testing.T) ImageOptions {
	conf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sc := &types.SystemContext{SystemRegistriesConfPath: conf, RegistriesDirPath: t.TempDir(), DockerAuthConfig: &types.DockerAuthConfig{}}
	return ImageOptions{SourceCtx: sc, DestinationCtx: sc}
}

// TestCopyImageCorruptLayer copies a layout whose layer file was damaged to
// every local transport: each copy fails naming the layer, and nothing is
// indexed or left behind.
func TestCopyImageCorruptLayer(t *testing.T) {
	srcDir := t.TempDir()
	top, bad := writeLayout(t, srcDir)
	src, err := ParseLocation("oci:" + srcDir + ":v1")
	if err != nil {
		t.Fatal(err)
	}

	// The intact layout copies: the fixture is valid.
	okDir := t.TempDir()
	okDst, _ := ParseLocation("oci:" + okDir + ":v1")
	if d, err := CopyImage(context.Background(), src, okDst, localOptions(t)); err != nil || d != top {
		t.Fatalf("copy of the intact layout = %s, %v; want %s", d, err, top)
	}

	badFile := filepath.Join(srcDir, "blobs", "sha256", bad.Encoded())
	b, _ := os.ReadFile(badFile)
	b[100] ^= 0xff // same size, one bit flipped
	if err := os.WriteFile(badFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		dest  func(dir string) string
		check func(t *testing.T, dir string)
	}{
		"oci layout": {
			dest: func(dir string) string { return "oci:" + dir + ":v1" },
			check: func(t *testing.T, dir string) {
				raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
				if err == nil && strings.Contains(string(raw), top.Encoded()) {
					t.Errorf("index.json names the image: %s", raw)
				}
				if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", bad.Encoded())); err == nil {
					t.Error("the corrupt layer was stored under its digest")
				}
			},
		},
		"oci archive": {
			dest: func(dir string) string { return "oci-archive:" + filepath.Join(dir, "app.tar") + ":v1" },
			check: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "app.tar")); err == nil {
					t.Error("an archive was left behind")
				}
			},
		},
		"docker archive": {
			dest: func(dir string) string { return "docker-archive:" + filepath.Join(dir, "app.tar") },
			check: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "app.tar")); err == nil {
					t.Error("an archive was left behind")
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			dst, err := ParseLocation(tc.dest(dir))
			if err != nil {
				t.Fatal(err)
			}
			_, err = CopyImage(context.Background(), src, dst, localOptions(t))
			var corrupt *CorruptError
			if !errors.As(err, &corrupt) || corrupt.Digest != bad || !strings.Contains(err.Error(), srcDir) {
				t.Fatalf("CopyImage error = %v, want a corrupt layer %s naming the source", err, bad)
			}
			tc.check(t, dir)
		})
	}
}

// TestCopyImageConversionRefusedUpFront converts to Docker a list whose
// attestation entry has no Docker form: the copy fails naming that entry
// before anything reaches the destination.
func TestCopyImageConversionRefusedUpFront(t *testing.T) {
	srcDir := t.TempDir()
	img, _ := writeLayout(t, srcDir)
	blobs := filepath.Join(srcDir, "blobs", "sha256")
	put := func(b []byte) imgspecv1.Descriptor {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return imgspecv1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	imgRaw, _ := os.ReadFile(filepath.Join(blobs, img.Encoded()))
	// A buildx attestation: an image config, an in-toto layer.
	statement := put([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`))
	statement.MediaType = "application/vnd.in-toto+json"
	cfg := put([]byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`))
	cfg.MediaType = imgspecv1.MediaTypeImageConfig
	att := imgspecv1.Manifest{MediaType: imgspecv1.MediaTypeImageManifest, Config: cfg, Layers: []imgspecv1.Descriptor{statement}}
	att.SchemaVersion = 2
	attRaw, _ := json.Marshal(att)
	attDesc := put(attRaw)
	attDesc.MediaType = imgspecv1.MediaTypeImageManifest
	attDesc.Platform = &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"}
	attDesc.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": img.String()}
	list := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{
		{MediaType: imgspecv1.MediaTypeImageManifest, Digest: img, Size: int64(len(imgRaw)), Platform: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}},
		attDesc,
	}}
	list.SchemaVersion = 2
	listRaw, _ := json.Marshal(list)
	listDesc := put(listRaw)
	listDesc.MediaType = imgspecv1.MediaTypeImageIndex
	listDesc.Annotations = map[string]string{imgspecv1.AnnotationRefName: "v1"}
	idx := imgspecv1.Index{Manifests: []imgspecv1.Descriptor{listDesc}}
	idx.SchemaVersion = 2
	rawIdx, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(srcDir, "index.json"), rawIdx, 0o644); err != nil {
		t.Fatal(err)
	}

	reg := newStubRegistry(t)
	src, _ := ParseLocation("oci:" + srcDir + ":v1")
	dst, err := ParseLocation(reg.host() + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	opts := localOptions(t)
	dc := *opts.SourceCtx
	dc.DockerInsecureSkipTLSVerify, dc.DockerDisableDestSchema1MIMETypes = types.OptionalBoolTrue, true
	opts.DestinationCtx = &dc
	opts.MediaType = "docker"
	_, err = CopyImage(context.Background(), src, dst, opts)
	if err == nil || !strings.Contains(err.Error(), "entry "+attDesc.Digest.String()+" (attestation of "+img.String()+")") {
		t.Fatalf("CopyImage error = %v, want the attestation entry named", err)
	}
	for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodPost} {
		if reqs := reg.requestsMatching(method, "/v2/app/"); len(reqs) != 0 {
			t.Errorf("destination received %d %s requests: %+v", len(reqs), method, reqs)
		}
	}
}
