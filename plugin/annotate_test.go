package plugin

import (
	"maps"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
)

// TestAnnotateCommand runs annotate on a draft of two images and checks
// what the store holds afterwards: the entry's platform and annotations, the
// list's annotations. A refused command names the bad value and changes
// nothing.
func TestAnnotateCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	// Docker images, so that the draft's type is the user's choice.
	amd := putDockerImage(s, "app", "amd64", "linux/amd64")
	arm := putDockerImage(s, "app", "arm", "linux/arm/v7")
	list := s.Host + "/app:v1"

	tests := map[string]struct {
		mediaType string // of the draft
		args      []string
		// What the draft holds afterwards: the arm entry's platform and
		// annotations, and the list's annotations.
		wantPlatform string
		wantEntry    map[string]string
		wantIndex    map[string]string
		wantErr      []string
	}{
		"variant, entry named by its platform": {args: []string{"--variant", "v6", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v6"},
		"entry named by its source":            {args: []string{"--os-version", "1.0", list, arm.ref}, wantPlatform: "linux/arm/v7:1.0"},
		"entry named by a digest prefix":       {args: []string{"--arch", "arm64", "--variant", "v8", list, arm.digest.Encoded()[:12]}, wantPlatform: "linux/arm64/v8"},
		"annotations on an OCI index": {mediaType: "oci", wantPlatform: "linux/arm/v7",
			args:      []string{"--annotation", "a=1", "--index-annotation", "org.opencontainers.image.version=2", list, "linux/arm/v7"},
			wantEntry: map[string]string{"a": "1"}, wantIndex: map[string]string{"org.opencontainers.image.version": "2"}},

		"annotation without =":        {mediaType: "oci", args: []string{"--annotation", "novalue", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v7", wantErr: []string{`"novalue"`, "KEY=VALUE"}},
		"annotation on a Docker list": {mediaType: "docker", args: []string{"--annotation", "a=1", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v7", wantErr: []string{"--media-type oci"}},
		"an unknown architecture":     {args: []string{"--arch", "arm65", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v7", wantErr: []string{"arm65"}},
		"an empty os.feature":         {args: []string{"--os-features", "win32k,,x", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v7", wantErr: []string{`"win32k,,x"`, "an empty feature"}},
		"no such entry":               {args: []string{"--variant", "v6", list, "linux/s390x"}, wantPlatform: "linux/arm/v7", wantErr: []string{"linux/s390x"}},
		"a platform another has":      {args: []string{"--arch", "amd64", "--variant", "", list, "linux/arm/v7"}, wantPlatform: "linux/arm/v7", wantErr: []string{"linux/amd64"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			saveDraft(t, list, tc.mediaType, amd, arm)
			err := c.run(newAnnotateCommand, tc.args...)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
			} else if err != nil {
				t.Fatalf("annotate: %v", err)
			}
			d := storedDraft(t, list)
			if d == nil || len(d.Entries) != 2 {
				t.Fatalf("draft %+v, want two entries", d)
			}
			if got := manifestlist.FormatPlatform(d.Entries[0].Descriptor.Platform); got != "linux/amd64" {
				t.Errorf("the other entry became %s", got)
			}
			e := d.Entries[1].Descriptor
			if got := manifestlist.FormatPlatform(e.Platform); got != tc.wantPlatform {
				t.Errorf("platform %s, want %s", got, tc.wantPlatform)
			}
			if e.Digest != arm.digest {
				t.Errorf("entry digest %s, want %s", e.Digest, arm.digest)
			}
			if !maps.Equal(e.Annotations, tc.wantEntry) || !maps.Equal(d.Annotations, tc.wantIndex) {
				t.Errorf("annotations: entry %v, list %v; want %v, %v", e.Annotations, d.Annotations, tc.wantEntry, tc.wantIndex)
			}
		})
	}
}
