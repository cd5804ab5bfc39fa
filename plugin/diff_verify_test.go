package plugin

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// diff and verify answer with their exit status (0 same or sound, 1 differ
// or problems, 2 error) and a JSON report; both are checked here.

// exitStatus is the status the plugin framework exits with for err.
func exitStatus(err error) int {
	var se cli.StatusError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return se.StatusCode
	}
	return 1
}

func TestDiffCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	arm2 := putImage(s, "app", "arm64-2", "linux/arm64/v8")
	one := putIndex(s, "app", "one", amd)
	two := putIndex(s, "app", "two", amd, arm)
	rebuilt := putIndex(s, "app", "rebuilt", amd, arm2)
	putIndex(s, "app", "copy", amd, arm)

	// Platforms are compared as keys: arm64's v8 is arm64.
	type change struct{ platform, action string }
	tests := map[string]struct {
		draft      []image // a draft called one.ref
		args       []string
		wantStatus int
		want       []change
		wantErr    []string
	}{
		"the same list under two tags": {args: []string{two.ref, s.Host + "/app:copy"}, want: []change{{"linux/amd64", "same"}, {"linux/arm64", "same"}}},
		"a platform added":             {args: []string{one.ref, two.ref}, wantStatus: 1, want: []change{{"linux/amd64", "same"}, {"linux/arm64", "added"}}},
		"a platform removed":           {args: []string{two.ref, one.ref}, wantStatus: 1, want: []change{{"linux/amd64", "same"}, {"linux/arm64", "removed"}}},
		"an image rebuilt":             {args: []string{two.ref, rebuilt.ref}, wantStatus: 1, want: []change{{"linux/amd64", "same"}, {"linux/arm64", "changed"}}},
		// One argument: from what the draft's tag holds to the draft.
		"a draft against its tag": {draft: []image{amd, arm}, args: []string{one.ref}, wantStatus: 1, want: []change{{"linux/amd64", "same"}, {"linux/arm64", "added"}}},
		"docker:// is the registry": {draft: []image{amd, arm}, args: []string{"docker://" + one.ref, one.ref}, wantStatus: 1,
			want: []change{{"linux/amd64", "same"}, {"linux/arm64", "added"}}},

		"one argument, no draft": {args: []string{two.ref}, wantStatus: 2, wantErr: []string{two.ref, "no such draft"}},
		"a missing tag":          {args: []string{two.ref, s.Host + "/app:nosuch"}, wantStatus: 2, wantErr: []string{"app:nosuch"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			if tc.draft != nil {
				saveDraft(t, one.ref, "", tc.draft...)
			}
			err := c.run(newDiffCommand, append([]string{"--format", "json"}, tc.args...)...)
			if got := exitStatus(err); got != tc.wantStatus {
				t.Fatalf("exit status %d (%v), want %d", got, err, tc.wantStatus)
			}
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
				return
			}
			var res struct {
				Equal     bool `json:"equal"`
				Platforms []manifestlist.PlatformDiff
			}
			if err := json.Unmarshal(c.out.Bytes(), &res); err != nil {
				t.Fatalf("%v: %q", err, c.out)
			}
			var got []change
			for _, p := range res.Platforms {
				got = append(got, change{p.Platform, string(p.Action)})
			}
			if !slices.Equal(got, tc.want) || res.Equal != (tc.wantStatus == 0) {
				t.Errorf("diff %v (equal %v), want %v", got, res.Equal, tc.want)
			}
		})
	}
}

func TestVerifyCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	sound := putIndex(s, "app", "sound", amd, arm)
	// An entry whose platform is not its config's, and one the repository
	// does not hold.
	wrong := arm
	wrong.desc.Platform = &imgspecv1.Platform{OS: "linux", Architecture: "s390x"}
	gone := putImage(s, "other", "gone", "linux/ppc64le")
	bad := putIndex(s, "app", "bad", amd, wrong, gone)

	type problem struct {
		kind   copy.ProblemKind
		digest string
	}
	tests := map[string]struct {
		draft      []image // a draft called sound.ref
		args       []string
		wantStatus int
		want       []problem
		wantErr    []string
		// blobHeads is how many blobs are looked up: with --deep, each
		// layer once; configs are read whole, for their platform.
		blobHeads int
	}{
		"a sound list":              {args: []string{sound.ref}},
		"a sound list, --deep":      {args: []string{"--deep", sound.ref}, blobHeads: 2},
		"a sound draft":             {draft: []image{amd, arm}, args: []string{sound.ref}},
		"a draft with a stray":      {draft: []image{amd, wrong}, args: []string{sound.ref}, wantStatus: 1, want: []problem{{copy.ProblemPlatform, arm.digest.String()}}},
		"docker:// skips the draft": {draft: []image{amd, wrong}, args: []string{"docker://" + sound.ref}},
		"a list with problems": {args: []string{bad.ref}, wantStatus: 1,
			want: []problem{{copy.ProblemPlatform, arm.digest.String()}, {copy.ProblemMissing, gone.digest.String()}}},

		"a missing tag": {args: []string{s.Host + "/app:nosuch"}, wantStatus: 2, wantErr: []string{"app:nosuch"}},
		"two refs":      {args: []string{sound.ref, bad.ref}, wantStatus: 2, wantErr: []string{"1 argument"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			if tc.draft != nil {
				saveDraft(t, sound.ref, "", tc.draft...)
			}
			heads := s.Count("HEAD", "/blobs/")
			defer func() {
				if n := s.Count("HEAD", "/blobs/") - heads; n != tc.blobHeads {
					t.Errorf("%d blob lookups, want %d", n, tc.blobHeads)
				}
			}()
			err := c.run(newVerifyCommand, append([]string{"--format", "json"}, tc.args...)...)
			if got := exitStatus(err); got != tc.wantStatus {
				t.Fatalf("exit status %d (%v), want %d", got, err, tc.wantStatus)
			}
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
				return
			}
			var r copy.Report
			if err := json.Unmarshal(c.out.Bytes(), &r); err != nil {
				t.Fatalf("%v: %q", err, c.out)
			}
			var got []problem
			for _, p := range r.Problems {
				got = append(got, problem{p.Kind, p.Digest.String()})
			}
			slices.SortFunc(got, func(a, b problem) int { return len(a.kind) - len(b.kind) })
			slices.SortFunc(tc.want, func(a, b problem) int { return len(a.kind) - len(b.kind) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems %v, want %v", got, tc.want)
			}
		})
	}
}
