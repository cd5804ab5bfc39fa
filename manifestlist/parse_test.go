package manifestlist

import (
	"errors"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// TestMediaTypeOf is the detector's one rule: the body's mediaType, over a
// Content-Type that names a manifest type, over the shape.
func TestMediaTypeOf(t *testing.T) {
	const (
		dockerList  = manifest.DockerV2ListMediaType
		dockerImage = manifest.DockerV2Schema2MediaType
		ociIndex    = imgspecv1.MediaTypeImageIndex
		ociImage    = imgspecv1.MediaTypeImageManifest
		schema1     = manifest.DockerV2Schema1MediaType
		schema1Sig  = manifest.DockerV2Schema1SignedMediaType

		dockerListBody  = `{"schemaVersion":2,"mediaType":"` + dockerList + `","manifests":[]}`
		ociIndexBody    = `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`
		bareIndexBody   = `{"schemaVersion":2,"manifests":[]}`
		dockerImageBody = `{"schemaVersion":2,"mediaType":"` + dockerImage + `","config":{"mediaType":"application/vnd.docker.container.image.v1+json"},"layers":[]}`
		bareDockerBody  = `{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json"},"layers":[]}`
		bareOCIBody     = `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[]}`
		artifactBody    = `{"schemaVersion":2,"mediaType":"` + ociImage + `","artifactType":"application/vnd.example+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"layers":[]}`
		bareArtifact    = `{"schemaVersion":2,"artifactType":"application/vnd.example+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"}}`
		oldArtifact     = `{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]}`
		schema1Body     = `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}`
		schema1SigBody  = `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[],"signatures":[]}`
	)
	tests := map[string]struct {
		raw, served, want string
	}{
		// The body's mediaType wins over whatever was served.
		"docker list, served as an index":       {raw: dockerListBody, served: ociIndex, want: dockerList},
		"docker list, nothing served":           {raw: dockerListBody, want: dockerList},
		"oci index, served as application/json": {raw: ociIndexBody, served: "application/json", want: ociIndex},
		"docker image, served as oci":           {raw: dockerImageBody, served: ociImage, want: dockerImage},
		"artifact":                              {raw: artifactBody, served: "application/octet-stream", want: ociImage},
		"withdrawn artifact type is kept":       {raw: oldArtifact, served: ociImage, want: "application/vnd.oci.artifact.manifest.v1+json"},
		// Without one, a Content-Type naming a manifest type wins over the shape.
		"bare index, served as a docker list": {raw: bareIndexBody, served: dockerList, want: dockerList},
		"bare index, served with parameters":  {raw: bareIndexBody, served: ociIndex + "; charset=utf-8", want: ociIndex},
		"bare oci image, served as docker":    {raw: bareOCIBody, served: dockerImage, want: dockerImage},
		"schema 1, served as signed":          {raw: schema1Body, served: schema1Sig, want: schema1Sig},
		"not JSON, served as an oci image":    {raw: `<html>`, served: ociImage, want: ociImage},
		// Neither: the shape. Generic types say nothing.
		"bare index, octet-stream":         {raw: bareIndexBody, served: "application/octet-stream", want: ociIndex},
		"bare index, nothing served":       {raw: bareIndexBody, want: ociIndex},
		"bare oci image, application/json": {raw: bareOCIBody, served: "application/json", want: ociImage},
		"bare docker image, text/plain":    {raw: bareDockerBody, served: "text/plain", want: dockerImage},
		"bare artifact, unknown type":      {raw: bareArtifact, served: "application/vnd.example+json", want: ociImage},
		"schema 1, application/json":       {raw: schema1Body, served: "application/json", want: schema1},
		"signed schema 1, nothing served":  {raw: schema1SigBody, want: schema1Sig},
		"schema 2 and nothing else":        {raw: `{"schemaVersion":2}`, want: ociImage},
		"no type, no shape":                {raw: `{"name":"x"}`, served: "application/json", want: ""},
		"not JSON, served as html":         {raw: `<html>`, served: "text/html", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := MediaTypeOf([]byte(tc.raw), tc.served); got != tc.want {
				t.Errorf("MediaTypeOf(%s, %q) = %q, want %q", tc.raw, tc.served, got, tc.want)
			}
		})
	}
}

// TestParseKind checks that Parse reads what MediaTypeOf says, whatever the
// caller's media type, and refuses what it cannot use, naming it.
func TestParseKind(t *testing.T) {
	const cfg = `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6","size":2}`
	tests := map[string]struct {
		raw, mediaType string
		wantKind       Kind
		wantType       string
		wantErr        string
	}{
		"index named an image by its descriptor": {raw: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, mediaType: imgspecv1.MediaTypeImageManifest, wantKind: KindList, wantType: imgspecv1.MediaTypeImageIndex},
		"bare index":                             {raw: `{"schemaVersion":2,"manifests":[]}`, wantKind: KindList, wantType: imgspecv1.MediaTypeImageIndex},
		"bare image, served as docker":           {raw: `{"schemaVersion":2,` + cfg + `}`, mediaType: manifest.DockerV2Schema2MediaType, wantKind: KindImage, wantType: manifest.DockerV2Schema2MediaType},
		"entries under an image type":            {raw: `{"schemaVersion":2,"manifests":[]}`, mediaType: imgspecv1.MediaTypeImageManifest, wantErr: "has entries (a list)"},
		"schema 1":                               {raw: `{"schemaVersion":1,"fsLayers":[]}`, wantErr: "schema 1 manifests"},
		"unknown type":                           {raw: `{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]}`, wantErr: `"application/vnd.oci.artifact.manifest.v1+json"`},
		"no type, no shape":                      {raw: `{"name":"x"}`, wantErr: "no mediaType"},
		"negative size":                          {raw: `{"schemaVersion":2,"layers":[{"digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6","size":-1}]}`, wantErr: "negative size -1"},
		"bad digest":                             {raw: `{"schemaVersion":2,"layers":[{"digest":"sha256:nope"}]}`, wantErr: `"sha256:nope"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse([]byte(tc.raw), tc.mediaType)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != tc.wantKind || p.MediaType != tc.wantType {
				t.Errorf("Parse = %s %q, want %s %q", p.Kind, p.MediaType, tc.wantKind, tc.wantType)
			}
			if (p.Kind == KindList) != (p.List != nil) {
				t.Errorf("Parse kind %s with list %v", p.Kind, p.List)
			}
		})
	}
}

// TestParseForeign checks that a layer with URLs is kept apart, with them.
func TestParseForeign(t *testing.T) {
	raw := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6","size":2},"layers":[{"digest":"sha256:823a3180dad3c9c3c4dea43ab2baf9f04bac9c3a7711745ff5f702551496d735","size":5,"urls":["https://example.invalid/l"]}]}`
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Foreign) != 1 || p.Foreign[0].Size != 5 || strings.Join(p.Foreign[0].URLs, " ") != "https://example.invalid/l" {
		t.Errorf("Foreign = %+v", p.Foreign)
	}
	if p.Config == nil || p.Config.Size != 2 || len(p.Blobs) != 1 || p.Blobs[0].Digest != p.Config.Digest {
		t.Errorf("Config %+v, Blobs %+v", p.Config, p.Blobs)
	}
}

// TestParseArtifact checks what a referrer is made of: its subject, its
// artifactType and annotations, for an image manifest and an index alike.
func TestParseArtifact(t *testing.T) {
	const subject = `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6","size":2}`
	for name, raw := range map[string]string{
		"image": `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x.sbom","annotations":{"k":"v"},` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],` + subject + `}`,
		"index": `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/x.sbom","annotations":{"k":"v"},"manifests":[],` + subject + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Parse([]byte(raw), "")
			if err != nil {
				t.Fatal(err)
			}
			if p.ArtifactType != "application/x.sbom" || p.Annotations["k"] != "v" || p.Subject == nil ||
				p.Subject.Digest != "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6" {
				t.Errorf("artifactType %q, annotations %v, subject %v", p.ArtifactType, p.Annotations, p.Subject)
			}
		})
	}
}

// TestParseBlobs checks the blobs Parse says an image needs in its
// repository: config first, then layers, foreign layers apart.
func TestParseBlobs(t *testing.T) {
	tests := map[string]struct {
		raw     string
		want    []string
		wantErr string
	}{
		"config and layers": {
			raw:  `{"schemaVersion":2,"config":{"digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"},"layers":[{"digest":"sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740"},{"digest":"sha256:8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041"}]}`,
			want: []string{"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6", "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740", "sha256:8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041"},
		},
		"foreign layer skipped": {
			raw:  `{"schemaVersion":2,"config":{"digest":"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"},"layers":[{"digest":"sha256:823a3180dad3c9c3c4dea43ab2baf9f04bac9c3a7711745ff5f702551496d735","urls":["https://example.invalid/l"]},{"digest":"sha256:acac86c0e609ca906f632b0e2dacccb2b77d22b0621f20ebece1a4835b93f6f0"}]}`,
			want: []string{"sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6", "sha256:acac86c0e609ca906f632b0e2dacccb2b77d22b0621f20ebece1a4835b93f6f0"},
		},
		"a list":     {raw: `{"schemaVersion":2,"manifests":[]}`, wantErr: "is a list"},
		"not json":   {raw: `nope`, wantErr: "parse manifest"},
		"no content": {raw: `{"schemaVersion":2}`, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse([]byte(tc.raw), "")
			if err == nil && p.Kind == KindList {
				err = errors.New("is a list")
			}
			got := p.Blobs
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want %q", err, tc.wantErr)
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
				t.Errorf("blobs = %v, want %v", digests, tc.want)
			}
		})
	}
}
