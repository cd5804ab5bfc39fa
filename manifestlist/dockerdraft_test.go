package manifestlist

import (
	"bytes"
	"encoding/json"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

func TestRecoverName(t *testing.T) {
	from := func(sources ...string) []Entry {
		var out []Entry
		for _, s := range sources {
			out = append(out, Entry{Source: s})
		}
		return out
	}
	for name, tc := range map[string]struct {
		dir     string
		entries []Entry
		want    string
	}{
		"port and tag":           {dir: "127.0.0.1-5000_app-dm", want: "127.0.0.1:5000/app:dm"},
		"nested repository":      {dir: "r.example_team_app-1.0", want: "r.example/team/app:1.0"},
		"docker hub":             {dir: "docker.io_library_c-latest", want: "docker.io/library/c:latest"},
		"dash: last one is tag":  {dir: "r.example_my-app-1.0", want: "r.example/my-app:1.0"},
		"entry repository wins":  {dir: "r.example_app-1.0-alpine", entries: from("r.example/app:amd64"), want: "r.example/app:1.0-alpine"},
		"entry underscore wins":  {dir: "r.example_team_app-1", entries: from("r.example/team_app@sha256:" + sixtyFour), want: "r.example/team_app:1"},
		"entry registry wins":    {dir: "reg.example-5000_app-1", entries: from("reg.example-5000/other:1"), want: "reg.example-5000/app:1"},
		"registry of an entry":   {dir: "127.0.0.1-5000_team_app-oci-images", entries: from("127.0.0.1:5000/team/src:amd64"), want: "127.0.0.1:5000/team/app-oci:images"},
		"repository of an entry": {dir: "127.0.0.1-5000_team_app-oci-images", entries: from("127.0.0.1:5000/team/app:amd64"), want: "127.0.0.1:5000/team/app:oci-images"},
		"unreadable stays empty": {dir: "-x", want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := recoverName(tc.dir, tc.entries); got != tc.want {
				t.Errorf("recoverName(%q) = %q, want %q", tc.dir, got, tc.want)
			}
		})
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestDockerDraftBuild: a draft docker manifest made pushes what docker
// manifest push writes: the first entry decides the type, three-space
// indentation, and no annotations.
func TestDockerDraftBuild(t *testing.T) {
	ociAmd := entry("r.example/app:amd64", imgspecv1.MediaTypeImageManifest, "a", "linux/amd64")
	dockerArm := entry("r.example/app:arm64", manifest.DockerV2Schema2MediaType, "b", "linux/arm64")
	for name, tc := range map[string]struct {
		entries []Entry
		want    string
	}{
		"oci first":               {entries: []Entry{ociAmd, dockerArm}, want: imgspecv1.MediaTypeImageIndex},
		"docker first, oci after": {entries: []Entry{dockerArm, ociAmd}, want: manifest.DockerV2ListMediaType},
	} {
		t.Run(name, func(t *testing.T) {
			d := &Draft{Name: "r.example/app:1", Entries: tc.entries, Docker: true}
			raw, mt, err := d.Build()
			if err != nil {
				t.Fatal(err)
			}
			if mt != tc.want || !bytes.HasPrefix(raw, []byte("{\n   \"schemaVersion\": 2,\n   \"mediaType\": \""+tc.want+"\",\n   \"manifests\": [\n      {\n")) {
				t.Errorf("Build gave %s:\n%s", mt, raw)
			}
			l, err := ParseList(raw, mt)
			if err != nil || len(l.Manifests) != 2 || l.Manifests[0].Digest != tc.entries[0].Descriptor.Digest {
				t.Errorf("parse of the built list: %v %+v", err, l)
			}
			d.Docker = false
			if again, _, _ := d.Build(); bytes.Equal(again, raw) {
				t.Error("an mlist draft builds docker's bytes too")
			}
		})
	}
}

// TestDraftFromRegistryPushesItsBytes: an unchanged draft of a list the
// registry holds builds its exact bytes, even where mlist would not write
// such a list: entries without a platform, a Docker list of OCI images.
func TestDraftFromRegistryPushesItsBytes(t *testing.T) {
	amd := entry("r.example/app@sha256:"+sixtyFour, imgspecv1.MediaTypeImageManifest, "a", "linux/amd64")
	nested := entry("r.example/app@sha256:"+sixtyFour, imgspecv1.MediaTypeImageIndex, "n", "")
	artifact := entry("r.example/app@sha256:"+sixtyFour, imgspecv1.MediaTypeImageManifest, "s", "")
	artifact.Descriptor.ArtifactType = "application/vnd.example.sbom"
	bare := entry("r.example/app@sha256:"+sixtyFour, imgspecv1.MediaTypeImageManifest, "b", "")
	for name, tc := range map[string]struct {
		mediaType string
		entries   []Entry
		origin    string
		// editErr is what Build says once the draft is changed; "" when
		// the changed list builds.
		editErr string
	}{
		"index with nested index": {mediaType: "oci", entries: []Entry{amd, nested},
			origin: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + entryJSON(amd.Descriptor) + `,` + entryJSON(nested.Descriptor) + `]}`},
		"index with artifact": {mediaType: "oci", entries: []Entry{amd, artifact},
			origin: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + entryJSON(amd.Descriptor) + `,` + entryJSON(artifact.Descriptor) + `]}`},
		"index with bare image": {mediaType: "oci", entries: []Entry{amd, bare},
			origin:  `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + entryJSON(amd.Descriptor) + `,` + entryJSON(bare.Descriptor) + `]}`,
			editErr: "has no os/architecture"},
		"docker list of oci images": {mediaType: "docker", entries: []Entry{amd},
			origin:  `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` + entryJSON(amd.Descriptor) + `]}`,
			editErr: "cannot hold"},
	} {
		t.Run(name, func(t *testing.T) {
			origin := []byte("  " + tc.origin + "\n") // formatting is kept too
			d := &Draft{Name: "r.example/app:1", MediaType: tc.mediaType, Entries: tc.entries, Origin: origin}
			raw, _, err := d.Build()
			if err != nil || !bytes.Equal(raw, origin) {
				t.Fatalf("Build = %s, %v; want the origin's bytes", raw, err)
			}
			d.Annotations = map[string]string{"x": "y"}
			if tc.mediaType == "docker" {
				d.Annotations = nil
				d.Entries = append([]Entry{}, d.Entries...)
				e := withPlatform(d.Entries[0], imgspecv1.Platform{OS: "linux", Architecture: "arm64"})
				d.Entries[0] = e
			}
			_, _, err = d.Build()
			switch {
			case tc.editErr == "" && err != nil:
				t.Errorf("changed draft: %v", err)
			case tc.editErr != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.editErr))):
				t.Errorf("changed draft: error %v, want %q", err, tc.editErr)
			}
		})
	}
}

func entryJSON(d imgspecv1.Descriptor) string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return string(b)
}
