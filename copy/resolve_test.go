package copy

import (
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestResolve(t *testing.T) {
	store := manifestlist.NewStore(t.TempDir())
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	entry := manifestlist.Entry{Source: "registry.example.com/app@" + digest.FromBytes(raw).String(), Raw: raw,
		Descriptor: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)),
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}}}
	if err := store.Save(&manifestlist.Draft{Name: "registry.example.com/app:1.0", Entries: []manifestlist.Entry{entry}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg    string
		drafts bool
		source string // "" for an error
		name   string // what the input is called, or a part of the error
	}{
		{arg: "registry.example.com/app:1.0", drafts: true, source: "draft", name: "registry.example.com/app:1.0"},
		{arg: "docker://registry.example.com/app:1.0", drafts: true, source: "registry", name: "registry.example.com/app:1.0"},
		{arg: "registry.example.com/app:1.0", drafts: false, source: "registry", name: "registry.example.com/app:1.0"},
		{arg: "registry.example.com/app:2.0", drafts: true, source: "registry", name: "registry.example.com/app:2.0"},
		{arg: "registry.example.com/app:1.0@" + digest.FromBytes(raw).String(), drafts: true, source: "registry", name: "registry.example.com/app:1.0@" + digest.FromBytes(raw).String()},
		{arg: "alpine", drafts: true, source: "registry", name: "docker.io/library/alpine:latest"},
		{arg: "oci:/tmp/layout:1.0", drafts: true, source: "oci", name: "oci:/tmp/layout:1.0"},
		{arg: "oci-archive:/tmp/app.tar:1.0", drafts: true, source: "oci-archive", name: "oci-archive:/tmp/app.tar:1.0"},
		{arg: "docker-archive:/tmp/app.tar", drafts: true, source: "docker-archive", name: "docker-archive:/tmp/app.tar"},
		{arg: "oci:", drafts: true, name: `invalid oci location "oci:": the path is empty; expected oci:PATH[:TAG]; accepted: ` + InputForms},
		{arg: "Registry.example.com/App", drafts: true, name: `invalid reference "Registry.example.com/App"`},
		{arg: "docker://", drafts: true, name: "accepted: " + InputForms},
		{arg: "a b", drafts: false, name: "accepted: " + LocationForms},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			var s *manifestlist.Store
			if tc.drafts {
				s = store
			}
			in, err := Resolve(tc.arg, s)
			if tc.source == "" {
				if err == nil {
					t.Fatalf("resolved as %s %s, want an error", in.Source(), in)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.name) || strings.Contains(msg, "\n") || !strings.Contains(msg, "accepted: ") {
					t.Fatalf("error %q: want one line naming the value and the accepted forms, with %q", msg, tc.name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Source() != tc.source || in.String() != tc.name {
				t.Errorf("resolved as %s %s, want %s %s", in.Source(), in, tc.source, tc.name)
			}
			if in.Shadows() != (tc.source == "draft") || (in.ShadowNote() != "") != in.Shadows() {
				t.Errorf("shadows %v, note %q", in.Shadows(), in.ShadowNote())
			}
			if in.Shadows() && !strings.Contains(in.ShadowNote(), "docker://"+tc.name) {
				t.Errorf("note %q does not say how to read the registry", in.ShadowNote())
			}
			wantRegistryOnly := tc.source == "registry"
			if err := in.RegistryOnly("merge SOURCE"); (err == nil) != wantRegistryOnly {
				t.Errorf("RegistryOnly: %v", err)
			} else if err != nil && (!strings.Contains(err.Error(), tc.arg) || !strings.Contains(err.Error(), "docker://REF")) {
				t.Errorf("RegistryOnly error %q does not name the value and what is accepted", err)
			}
		})
	}
}
