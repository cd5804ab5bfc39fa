package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker/cli/cli/config"
)

// The commands that only touch local drafts: rm, ls and drop, each checked
// by what the store holds afterwards.

func TestRmCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	a, b, other := s.Host+"/app:a", s.Host+"/app:b", s.Host+"/app:other"

	tests := map[string]struct {
		args    []string
		want    []string // the drafts left
		wantErr []string
	}{
		"one":                 {args: []string{a}, want: []string{b, other}},
		"two":                 {args: []string{a, b}, want: []string{other}},
		"tags are normalised": {args: []string{s.Host + "/app"}, want: []string{a, b, other}, wantErr: []string{s.Host + "/app:latest"}},
		// Every draft it can is removed; each one it cannot is named.
		"a missing one among others": {args: []string{a, s.Host + "/app:nosuch", b}, want: []string{other}, wantErr: []string{"app:nosuch"}},
		"a digest":                   {args: []string{s.Host + "/app@" + amd.digest.String()}, want: []string{a, b, other}, wantErr: []string{amd.digest.String()}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			for _, n := range []string{a, b, other} {
				saveDraft(t, n, "", amd)
			}
			err := c.run(newRmCommand, tc.args...)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
			} else if err != nil {
				t.Fatal(err)
			}
			if got := storedNames(t); !slices.Equal(got, tc.want) {
				t.Errorf("drafts left %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLsCommand checks what ls reports of the store: every draft with its
// entry count and platforms (attestations left out), and an unreadable
// draft as an error after the others.
func TestLsCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm", "linux/arm/v7")
	c := newTestCLI(t)
	if out := c.mustRun(t, newLsCommand, "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty store: %q, want []", out)
	}
	saveDraft(t, s.Host+"/app:two", "", amd, arm)
	saveDraft(t, s.Host+"/app:one", "", arm)

	var rows []draftSummary
	if err := json.Unmarshal([]byte(c.mustRun(t, newLsCommand, "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	want := []draftSummary{
		{Name: s.Host + "/app:one", Entries: 1, Platforms: []string{"linux/arm/v7"}},
		{Name: s.Host + "/app:two", Entries: 2, Platforms: []string{"linux/amd64", "linux/arm/v7"}},
	}
	if !slices.EqualFunc(rows, want, func(a, b draftSummary) bool {
		return a.Name == b.Name && a.Entries == b.Entries && slices.Equal(a.Platforms, b.Platforms)
	}) {
		t.Errorf("ls: %+v, want %+v", rows, want)
	}
	if out := c.mustRun(t, newLsCommand, "-q"); out != s.Host+"/app:one\n"+s.Host+"/app:two\n" {
		t.Errorf("ls -q: %q", out)
	}

	// A draft whose entry file is not JSON: the others are still listed,
	// and the command fails naming it.
	dirs, err := filepath.Glob(filepath.Join(config.Dir(), "manifests", "*", "*"))
	if err != nil || len(dirs) != 3 {
		t.Fatalf("draft files %v (%v), want 3", dirs, err)
	}
	broken := ""
	for _, f := range dirs {
		if strings.Contains(f, "one") {
			broken = f
		}
	}
	if err := os.WriteFile(broken, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = c.run(newLsCommand, "-q")
	wantError(t, err, s.Host+"/app:one")
	if c.out.String() != s.Host+"/app:two\n" {
		t.Errorf("ls -q with a broken draft printed %q, want the other", c.out)
	}
}

func TestDropCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm", "linux/arm/v7")
	s390 := putImage(s, "app", "s390x", "linux/s390x")
	list := s.Host + "/app:v1"
	all := []string{"linux/amd64@" + amd.digest.String(), "linux/arm/v7@" + arm.digest.String(), "linux/s390x@" + s390.digest.String()}

	tests := map[string]struct {
		args    []string
		want    []string
		wantErr []string
	}{
		"by platform":               {args: []string{list, "linux/arm/v7"}, want: []string{all[0], all[2]}},
		"two, by digest and source": {args: []string{list, amd.digest.String(), s390.ref}, want: all[1:2]},
		"by a digest prefix":        {args: []string{list, s390.digest.Encoded()[:12]}, want: all[:2]},

		"one bad selector drops nothing": {args: []string{list, "linux/arm/v7", "linux/ppc64le"}, want: all, wantErr: []string{"linux/ppc64le"}},
		"every image":                    {args: []string{list, "linux/amd64", "linux/arm/v7", "linux/s390x"}, want: all, wantErr: []string{list, "rm"}},
		"no such draft":                  {args: []string{s.Host + "/app:nosuch", "linux/amd64"}, want: all, wantErr: []string{"app:nosuch"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			saveDraft(t, list, "", amd, arm, s390)
			err := c.run(newDropCommand, tc.args...)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
			} else if err != nil {
				t.Fatal(err)
			}
			if got := entryPlatforms(storedDraft(t, list)); !slices.Equal(got, tc.want) {
				t.Errorf("entries left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
