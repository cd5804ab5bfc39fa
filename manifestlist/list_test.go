package manifestlist

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

func TestParseList(t *testing.T) {
	amd := docker("a", "linux/amd64")
	// A list as `docker manifest push` writes it: indented, with features.
	dockerList := `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": ` + jsonInt(amd.Size) + `, "digest": "` + amd.Digest.String() + `",
       "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]}}
   ]
}`
	ociIndex := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/x.test",` +
		`"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + amd.Digest.String() + `","size":1,"annotations":{"k":"v"}}],` +
		`"annotations":{"org.opencontainers.image.source":"x"}}`
	tests := map[string]struct {
		raw, mt     string
		wantMT      string
		wantEntries int
		check       func(*testing.T, *List)
		wantErr     string
	}{
		"docker list guessed": {raw: dockerList, wantMT: manifest.DockerV2ListMediaType, wantEntries: 1, check: func(t *testing.T, l *List) {
			if got := FormatPlatform(l.Manifests[0].Platform); got != "linux/amd64" {
				t.Errorf("platform = %s", got)
			}
		}},
		"oci index": {raw: ociIndex, mt: imgspecv1.MediaTypeImageIndex, wantMT: imgspecv1.MediaTypeImageIndex, wantEntries: 1, check: func(t *testing.T, l *List) {
			if l.ArtifactType != "application/x.test" || l.Annotations["org.opencontainers.image.source"] != "x" || l.Manifests[0].Annotations["k"] != "v" {
				t.Errorf("lost fields: %+v", l)
			}
			if l.Manifests[0].Platform != nil {
				t.Errorf("platform = %v, want nil", l.Manifests[0].Platform)
			}
		}},
		"single manifest": {raw: string(fakeManifest(manifest.DockerV2Schema2MediaType, "x")), wantErr: "application/vnd.docker.distribution.manifest.v2+json is a single image manifest, not a list"},
		"oci manifest":    {raw: string(fakeManifest(imgspecv1.MediaTypeImageManifest, "x")), wantErr: "is a single image manifest, not a list"},
		"garbage":         {raw: "nope", wantErr: "unrecognised manifest"},
		"sha512 entry": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha512:` + strings.Repeat("ab", 64) + `"}`),
			wantErr: "parse OCI index: entry 0: digest sha512:abab"},
		"bad digest": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:zz"}`),
			wantErr: `entry 0: invalid digest "sha256:zz"`},
		"empty platform object": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"` + amd.Digest.String() + `","platform":{}}`),
			wantMT: imgspecv1.MediaTypeImageIndex, wantEntries: 1},
		"platform without os": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"` + amd.Digest.String() + `","platform":{"architecture":"amd64"}}`),
			wantErr: `invalid platform "/amd64": os "" is not one of`},
		"negative size": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":-1,"digest":"` + amd.Digest.String() + `"}`),
			wantErr: "negative size -1"},
		"unknown os": {raw: indexOf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"` + amd.Digest.String() + `","platform":{"os":"linux\u001b[31m","architecture":"amd64"}}`),
			wantErr: `entry 0 (` + amd.Digest.String() + `): invalid platform "linux\x1b[31m/amd64": os "linux\x1b[31m" is not one of`},
		"bad variant in docker list": {raw: `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` +
			`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"` + amd.Digest.String() + `","platform":{"os":"linux","architecture":"arm","variant":"v9"}}]}`,
			wantErr: "parse Docker manifest list: entry 0 (" + amd.Digest.String() + `): invalid platform "linux/arm/v9"`},
		"other media type":     {raw: `{"mediaType":"application/x.other"}`, mt: imgspecv1.MediaTypeImageIndex, wantErr: `unsupported media type "application/x.other"`},
		"generic type ignored": {raw: "{}", mt: "text/plain", wantErr: "unrecognised manifest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := ParseList([]byte(tc.raw), tc.mt)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.MediaType != tc.wantMT || len(l.Manifests) != tc.wantEntries {
				t.Fatalf("got %s with %d entries", l.MediaType, len(l.Manifests))
			}
			if tc.check != nil {
				tc.check(t, l)
			}
		})
	}
}

// indexOf wraps descriptors (JSON) in an OCI index.
func indexOf(descs ...string) string {
	return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(descs, ",") + `]}`
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSerialize(t *testing.T) {
	amd, arm := docker("a", "linux/amd64"), docker("b", "linux/arm64")
	annotated := amd
	annotated.Annotations = map[string]string{"k": "v"}
	noPlatform := docker("c", "")
	tests := map[string]struct {
		list    List
		wantErr string
	}{
		"docker":                     {list: List{MediaType: manifest.DockerV2ListMediaType, Manifests: []imgspecv1.Descriptor{amd, arm}}},
		"oci with everything":        {list: List{MediaType: imgspecv1.MediaTypeImageIndex, ArtifactType: "application/x.a", Annotations: map[string]string{"a": "b"}, Subject: &amd, Manifests: []imgspecv1.Descriptor{annotated, oci("o", ""), noPlatform}}},
		"docker with oci entry":      {list: List{MediaType: manifest.DockerV2ListMediaType, Manifests: []imgspecv1.Descriptor{amd, oci("o", "linux/s390x")}}, wantErr: "a Docker manifest list cannot hold sha256:"},
		"docker with annotations":    {list: List{MediaType: manifest.DockerV2ListMediaType, Annotations: map[string]string{"a": "b"}, Manifests: []imgspecv1.Descriptor{amd}}, wantErr: "a Docker manifest list cannot carry annotations; use --media-type oci"},
		"docker with entry annot.":   {list: List{MediaType: manifest.DockerV2ListMediaType, Manifests: []imgspecv1.Descriptor{annotated}}, wantErr: "cannot carry annotations (entry sha256:"},
		"docker with subject":        {list: List{MediaType: manifest.DockerV2ListMediaType, Subject: &amd, Manifests: []imgspecv1.Descriptor{arm}}, wantErr: "cannot carry a subject"},
		"docker entry sans platform": {list: List{MediaType: manifest.DockerV2ListMediaType, Manifests: []imgspecv1.Descriptor{noPlatform}}, wantErr: "entry " + noPlatform.Digest.String() + " has no os/architecture"},
		"bad media type":             {list: List{MediaType: "x"}, wantErr: `invalid list media type "x"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			raw, err := tc.list.Serialize()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseList(raw, "")
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if !sameList(back, &tc.list) {
				t.Errorf("round trip changed the list:\n got %+v\nwant %+v", back, tc.list)
			}
			again, _ := back.Serialize()
			if !bytes.Equal(raw, again) {
				t.Errorf("serialisation is not stable")
			}
		})
	}
}

func TestListMediaType(t *testing.T) {
	amd, o := docker("a", "linux/amd64"), oci("o", "linux/arm64")
	annotated := amd
	annotated.Annotations = map[string]string{"k": "v"}
	tests := map[string]struct {
		requested   string
		entries     []imgspecv1.Descriptor
		annotations bool
		want        string
		wantErr     string
	}{
		"auto, all docker":        {entries: []imgspecv1.Descriptor{amd}, want: manifest.DockerV2ListMediaType},
		"auto, an oci entry":      {entries: []imgspecv1.Descriptor{amd, o}, want: imgspecv1.MediaTypeImageIndex},
		"auto, index annotations": {entries: []imgspecv1.Descriptor{amd}, annotations: true, want: imgspecv1.MediaTypeImageIndex},
		"auto, entry annotations": {entries: []imgspecv1.Descriptor{annotated}, want: imgspecv1.MediaTypeImageIndex},
		"oci":                     {requested: "oci", entries: []imgspecv1.Descriptor{amd}, want: imgspecv1.MediaTypeImageIndex},
		"oci full type":           {requested: imgspecv1.MediaTypeImageIndex, entries: []imgspecv1.Descriptor{amd}, want: imgspecv1.MediaTypeImageIndex},
		"docker":                  {requested: "Docker", entries: []imgspecv1.Descriptor{amd}, want: manifest.DockerV2ListMediaType},
		"docker full type":        {requested: manifest.DockerV2ListMediaType, entries: []imgspecv1.Descriptor{amd}, want: manifest.DockerV2ListMediaType},
		"docker, oci entry":       {requested: "docker", entries: []imgspecv1.Descriptor{amd, o}, wantErr: "cannot hold " + o.Digest.String()},
		"docker, annotations":     {requested: "docker", entries: []imgspecv1.Descriptor{amd}, annotations: true, wantErr: "cannot carry annotations"},
		"unknown":                 {requested: "x", wantErr: `invalid media type "x": accepted: docker, oci`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ListMediaType(tc.requested, tc.entries, tc.annotations)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
