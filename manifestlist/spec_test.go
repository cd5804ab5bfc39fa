package manifestlist

import (
	"reflect"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestToolSpec is the example from manifest-tool's README, with the
// Windows fields it documents.
const manifestToolSpec = `image: myprivreg:5000/someimage:latest
tags: ['1.0.0', 'v1.0']
manifests:
  -
    image: myprivreg:5000/someimage:ppc64le
    platform:
      architecture: ppc64le
      os: linux
  -
    image: myprivreg:5000/someimage:armv7
    platform:
      architecture: arm
      os: linux
      variant: v7
      features:
        - sse4
  -
    image: myprivreg:5000/someimage:windows
    platform:
      architecture: amd64
      os: windows
      osversion: "10.0.17763.1"
      osfeatures: [win32k]
  -
    image: myprivreg:5000/someimage:s390x
`

func TestParseSpec(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    *Spec
		wantErr string
	}{
		"manifest-tool file": {in: manifestToolSpec, want: &Spec{
			Image: "myprivreg:5000/someimage:latest",
			Tags:  []string{"1.0.0", "v1.0"},
			Manifests: []SpecEntry{
				{Image: "myprivreg:5000/someimage:ppc64le", Platform: &imgspecv1.Platform{Architecture: "ppc64le", OS: "linux"}},
				{Image: "myprivreg:5000/someimage:armv7", Platform: &imgspecv1.Platform{Architecture: "arm", OS: "linux", Variant: "v7"}, Features: []string{"sse4"}},
				{Image: "myprivreg:5000/someimage:windows", Platform: &imgspecv1.Platform{Architecture: "amd64", OS: "windows", OSVersion: "10.0.17763.1", OSFeatures: []string{"win32k"}}},
				{Image: "myprivreg:5000/someimage:s390x"},
			},
		}},
		"docker-mlist extensions": {in: `
image: r.example/app:1
format: oci
annotations: {org.opencontainers.image.source: "https://x"}
manifests:
  - image: r.example/app:1-arm64
    platform: {architecture: aarch64, os: linux, os.version: "1", os.features: [a]}
    annotations: {k: v}
`, want: &Spec{
			Image: "r.example/app:1", MediaType: "oci",
			Annotations: map[string]string{"org.opencontainers.image.source": "https://x"},
			Manifests: []SpecEntry{{
				Image:       "r.example/app:1-arm64",
				Platform:    &imgspecv1.Platform{Architecture: "arm64", OS: "linux", OSVersion: "1", OSFeatures: []string{"a"}},
				Annotations: map[string]string{"k": "v"},
			}},
		}},
		"format docker":         {in: "image: a/b:c\nformat: docker\nmanifests: [{image: a/b:d}]\n", want: &Spec{Image: "a/b:c", MediaType: "docker", Manifests: []SpecEntry{{Image: "a/b:d"}}}},
		"unknown key":           {in: "image: a/b:c\nmanifests: [{image: a/b:d, platfrom: {os: linux}}]\n", wantErr: `invalid spec: line 2: unknown key "platfrom"`},
		"unknown top-level key": {in: "image: a/b:c\ntag: [x]\nmanifests: [{image: a/b:d}]\n", wantErr: `line 2: unknown key "tag"`},
		"no image":              {in: "manifests: [{image: a/b:d}]\n", wantErr: `missing key "image"`},
		"no manifests":          {in: "image: a/b:c\n", wantErr: "a/b:c has no manifests"},
		"entry without image":   {in: "image: a/b:c\nmanifests: [{platform: {os: linux, architecture: amd64}}]\n", wantErr: "manifests[0] has no image"},
		"bad variant":           {in: "image: a/b:c\nmanifests: [{image: a/b:d, platform: {os: linux, architecture: arm, variant: v9}}]\n", wantErr: `manifests[0] (a/b:d): invalid platform "linux/arm/v9": variant must be one of v5, v6, v7, v8 for arm`},
		"platform without os":   {in: "image: a/b:c\nmanifests: [{image: a/b:d, platform: {architecture: amd64}}]\n", wantErr: "platform needs both os and architecture"},
		"bad format":            {in: "image: a/b:c\nformat: tar\nmanifests: [{image: a/b:d}]\n", wantErr: `format "tar": accepted: docker, oci`},
		"empty":                 {in: "", wantErr: "invalid spec: it is empty"},
		"not yaml":              {in: "image: [", wantErr: "invalid spec: yaml:"},
		"two documents": {in: "image: a/b:c\nmanifests: [{image: a/b:d}]\n---\nimage: a/b:e\nmanifests: [{image: a/b:f}]\n",
			wantErr: "invalid spec: it holds several YAML documents (the second starts at line 3); put one list in each file"},
		"empty second document": {in: "image: a/b:c\nmanifests: [{image: a/b:d}]\n---\n# nothing\n", wantErr: "several YAML documents"},
		"bad second document":   {in: "image: a/b:c\nmanifests: [{image: a/b:d}]\n---\n[\n", wantErr: "invalid spec: after the first document: yaml:"},
		"document start marker": {in: "---\nimage: a/b:c\nmanifests: [{image: a/b:d}]\n", want: &Spec{Image: "a/b:c", Manifests: []SpecEntry{{Image: "a/b:d"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSpec(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
