package copy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestBlobs(t *testing.T) {
	tests := map[string]struct {
		raw     string
		want    []string
		wantErr string
	}{
		"config and layers": {
			raw:  `{"schemaVersion":2,"config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"}]}`,
			want: []string{"sha256:c", "sha256:l1", "sha256:l2"},
		},
		"foreign layer skipped": {
			raw:  `{"schemaVersion":2,"config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:win","urls":["https://example.invalid/l"]},{"digest":"sha256:l"}]}`,
			want: []string{"sha256:c", "sha256:l"},
		},
		"a list":     {raw: `{"schemaVersion":2,"manifests":[]}`, wantErr: "a list cannot be an entry"},
		"not json":   {raw: `nope`, wantErr: "parse manifest"},
		"no content": {raw: `{"schemaVersion":2}`, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Blobs([]byte(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Blobs error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var digests []string
			for _, b := range got {
				digests = append(digests, b.Digest.String())
			}
			if strings.Join(digests, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Blobs = %v, want %v", digests, tc.want)
			}
		})
	}
}

func descriptor(d string, p string) imgspecv1.Descriptor {
	desc := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString(d), Size: 1}
	if p != "" {
		pl, err := manifestlist.ParsePlatform(p)
		if err != nil {
			panic(err)
		}
		desc.Platform = &pl
	}
	return desc
}

func attestationOf(d string, subject imgspecv1.Descriptor) imgspecv1.Descriptor {
	a := descriptor(d, "")
	a.Platform = &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"}
	a.Annotations = map[string]string{
		manifestlist.AnnotationReferenceType:   "attestation-manifest",
		manifestlist.AnnotationReferenceDigest: subject.Digest.String(),
	}
	return a
}

func TestSubset(t *testing.T) {
	amd, arm, s390 := descriptor("amd64", "linux/amd64"), descriptor("arm64", "linux/arm64"), descriptor("s390x", "linux/s390x")
	attAmd, attArm := attestationOf("att-amd64", amd), attestationOf("att-arm64", arm)
	list := &manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{amd, attAmd, arm, attArm, s390}}
	raw, err := list.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Digest: digest.FromBytes(raw), MediaType: list.MediaType, Raw: raw, Tag: "v1"}

	tests := map[string]struct {
		platforms string
		want      []digest.Digest // nil: the original bytes
		wantErr   string
	}{
		"one platform with its attestation": {platforms: "linux/arm64", want: []digest.Digest{arm.Digest, attArm.Digest}},
		"two platforms keep list order":     {platforms: "linux/s390x,linux/amd64", want: []digest.Digest{amd.Digest, attAmd.Digest, s390.Digest}},
		"every platform keeps the bytes":    {platforms: "linux/amd64,linux/arm64,linux/s390x"},
		"arm64/v8 is arm64":                 {platforms: "linux/arm64/v8", want: []digest.Digest{arm.Digest, attArm.Digest}},
		"missing platform":                  {platforms: "linux/ppc64le", wantErr: "no entry for platform linux/ppc64le; the list has linux/amd64, linux/arm64, linux/s390x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			platforms, err := manifestlist.ParsePlatforms(tc.platforms)
			if err != nil {
				t.Fatal(err)
			}
			got, err := subset(m, platforms)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("subset error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if string(got.Raw) != string(raw) || got.Digest != m.Digest {
					t.Errorf("subset of every platform changed the list")
				}
				return
			}
			if got.Digest != digest.FromBytes(got.Raw) || got.Tag != "v1" {
				t.Errorf("subset digest %s does not match its bytes, or tag %q lost", got.Digest, got.Tag)
			}
			var idx imgspecv1.Index
			if err := json.Unmarshal(got.Raw, &idx); err != nil {
				t.Fatal(err)
			}
			var digests []digest.Digest
			for _, d := range idx.Manifests {
				digests = append(digests, d.Digest)
			}
			if len(digests) != len(tc.want) {
				t.Fatalf("subset entries %v, want %v", digests, tc.want)
			}
			for i := range digests {
				if digests[i] != tc.want[i] {
					t.Errorf("subset entry %d = %s, want %s", i, digests[i], tc.want[i])
				}
			}
		})
	}
}

func TestListChildren(t *testing.T) {
	children, err := listChildren([]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a"}]}`))
	if err != nil || len(children) != 1 || children[0].Digest != "sha256:a" || children[0].MediaType != imgspecv1.MediaTypeImageManifest {
		t.Errorf("listChildren of a list = %+v, %v", children, err)
	}
	if children, err := listChildren([]byte(`{"config":{},"layers":[]}`)); err != nil || children != nil {
		t.Errorf("listChildren of an image = %+v, %v; want nil, nil", children, err)
	}
}
