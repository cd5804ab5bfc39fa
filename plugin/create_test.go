package plugin

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
)

// TestCreateCommand runs create against the test registry and checks the
// draft it leaves: its entries (platform and digest, in order) and, for
// --from, the digest pushing it unchanged would write. A refused command
// names the bad value and leaves the store as it was.
func TestCreateCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	multi := putIndex(s, "app", "multi", amd, arm)
	list := s.Host + "/app:v1"
	entry := func(p string, im image) string { return p + "@" + im.digest.String() }
	both := []string{entry("linux/amd64", amd), entry("linux/arm64/v8", arm)}

	tests := map[string]struct {
		before     []string // a create run first
		args       []string
		want       []string // the draft's entries afterwards; nil: no draft
		wantDigest digest.Digest
		wantErr    []string
	}{
		"two images, platforms from their configs": {args: []string{list, amd.ref, arm.ref}, want: both},
		"a list brings its entries":                {args: []string{list, multi.ref}, want: both},
		"--from keeps the list's bytes":            {args: []string{"--from", multi.ref, list}, want: both, wantDigest: multi.digest},
		// The entry gets the platform it was named for, as manifest-tool's.
		"--template names one image per platform": {
			args: []string{list, "--platform", "linux/amd64,linux/arm64", "--template", s.Host + "/app:ARCH"},
			want: []string{entry("linux/amd64", amd), entry("linux/arm64", arm)}},
		"--amend adds to the draft": {before: []string{list, amd.ref}, args: []string{"--amend", list, arm.ref}, want: both},

		"a draft is not replaced without --amend": {before: []string{list, amd.ref}, args: []string{list, arm.ref},
			want: both[:1], wantErr: []string{list, "--amend"}},
		"unknown --media-type":  {args: []string{"--media-type", "v3", list, amd.ref}, wantErr: []string{`"v3"`, "docker, oci"}},
		"a missing source":      {args: []string{list, amd.ref, s.Host + "/app:nosuch"}, wantErr: []string{"app:nosuch"}},
		"a digest as the name":  {args: []string{s.Host + "/app@" + amd.digest.String(), amd.ref}, wantErr: []string{amd.digest.String(), "tag"}},
		"--from a single image": {args: []string{"--from", amd.ref, list}, wantErr: []string{amd.ref, "single image"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			if tc.before != nil {
				c.mustRun(t, newCreateCommand, tc.before...)
			}
			err := c.run(newCreateCommand, tc.args...)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
			} else if err != nil {
				t.Fatalf("create: %v\nstderr: %s", err, c.err)
			}
			d := storedDraft(t, list)
			if tc.want == nil {
				if names := storedNames(t); len(names) > 0 {
					t.Fatalf("drafts %v written, want none", names)
				}
				return
			}
			if d == nil {
				t.Fatalf("no draft %s", list)
			}
			if got := entryPlatforms(d); !slices.Equal(got, tc.want) {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.wantDigest != "" {
				raw, _, err := d.Build()
				if err != nil {
					t.Fatal(err)
				}
				if got := digest.FromBytes(raw); got != tc.wantDigest {
					t.Errorf("the draft builds %s, want the registry's %s", got, tc.wantDigest)
				}
			}
		})
	}
}
