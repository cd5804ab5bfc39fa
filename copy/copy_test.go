package copy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

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

// TestSubsetEveryPlatformKeepsBytes: a --platform naming every platform of
// a list keeps the list as its writer wrote it, digest and all. The lists
// are as buildx, crane and `docker manifest` write them, and one with
// fields the model does not know: bytes this project's serializer would not
// write, so re-serialising them cannot pass.
func TestSubsetEveryPlatformKeepsBytes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lists", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("testdata/lists: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ MediaType string }
			if err := json.Unmarshal(raw, &head); err != nil {
				t.Fatal(err)
			}
			m := Manifest{Digest: digest.FromBytes(raw), MediaType: head.MediaType, Raw: raw, Tag: "v1"}
			for _, platforms := range []string{"linux/amd64,linux/arm64,linux/s390x", "linux/s390x,linux/arm64,linux/amd64"} {
				ps, err := manifestlist.ParsePlatforms(platforms)
				if err != nil {
					t.Fatal(err)
				}
				got, err := subset(m, ps)
				if err != nil {
					t.Fatal(err)
				}
				if string(got.Raw) != string(raw) || got.Digest != m.Digest || got.MediaType != m.MediaType || got.Tag != "v1" {
					t.Errorf("--platform %s changed the list: %s %s, want %s %s byte for byte:\n%s", platforms, got.MediaType, got.Digest, m.MediaType, m.Digest, got.Raw)
				}
			}
			// One platform fewer is a new list, whose digest is its bytes'.
			ps, _ := manifestlist.ParsePlatforms("linux/amd64,linux/arm64")
			got, err := subset(m, ps)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest == m.Digest || got.Digest != digest.FromBytes(got.Raw) {
				t.Errorf("a 2-platform subset is %s over its bytes' %s (the list is %s)", got.Digest, digest.FromBytes(got.Raw), m.Digest)
			}
		})
	}
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
		want      []digest.Digest
		wantErr   string
	}{
		"one platform with its attestation": {platforms: "linux/arm64", want: []digest.Digest{arm.Digest, attArm.Digest}},
		"two platforms keep list order":     {platforms: "linux/s390x,linux/amd64", want: []digest.Digest{amd.Digest, attAmd.Digest, s390.Digest}},
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
