package plugin

import (
	"slices"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// Every platform offered is one the commands accept.
func TestCompletionPlatformsAreValid(t *testing.T) {
	for _, p := range completionPlatforms {
		parsed, err := manifestlist.ParsePlatform(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := manifestlist.FormatPlatform(&parsed); got != p {
			t.Errorf("%s reads back as %s", p, got)
		}
	}
	for _, os := range fixedFlagValues["os"] {
		for _, arch := range fixedFlagValues["arch"] {
			if _, err := manifestlist.ParsePlatform(os + "/" + arch); err != nil {
				t.Errorf("--os %s --arch %s: %v", os, arch, err)
			}
		}
	}
	for _, v := range fixedFlagValues["variant"] {
		if _, err := manifestlist.ParsePlatform("linux/arm/" + v); err != nil {
			t.Errorf("--variant %s: %v", v, err)
		}
	}
}

func TestCompletePlatformList(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []string
	}{
		"windows":        {"windows/", []string{"windows/amd64", "windows/arm64"}},
		"after a comma":  {"linux/amd64,windows/a", []string{"linux/amd64,windows/amd64", "linux/amd64,windows/arm64"}},
		"chosen skipped": {"windows/amd64,windows/", []string{"windows/amd64,windows/arm64"}},
		"unknown":        {"plan9/", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, dir := completePlatformList(nil, nil, tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if dir != cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace {
				t.Errorf("directive %v", dir)
			}
		})
	}
}

// Drafts are offered as the references they are; Docker Hub drafts also by
// the short name a user types.
func TestCompleteDraftNames(t *testing.T) {
	dir := t.TempDir()
	// config.Dir() is read once per process; other tests may have read it.
	old := config.Dir()
	config.SetDir(dir)
	t.Cleanup(func() { config.SetDir(old) })
	store := manifestlist.NewStore(dir)
	raw := []byte(`{"schemaVersion":2}`)
	entry := manifestlist.Entry{
		Source: "docker.io/library/app:amd64",
		Descriptor: imgspecv1.Descriptor{
			MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)),
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"},
		},
		Raw: raw,
	}
	for _, name := range []string{"docker.io/library/app:1.0", "registry.example.com:5000/team/app:1.0"} {
		if err := store.Save(&manifestlist.Draft{Name: name, Entries: []manifestlist.Entry{entry}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		args       []string
		toComplete string
		want       []string
	}{
		"all, as stored":     {nil, "", []string{"docker.io/library/app:1.0", "registry.example.com:5000/team/app:1.0"}},
		"hub short name":     {nil, "ap", []string{"app:1.0"}},
		"hub full name":      {nil, "docker.io/", []string{"docker.io/library/app:1.0"}},
		"other registry":     {nil, "registry.example.com:5000/t", []string{"registry.example.com:5000/team/app:1.0"}},
		"entries of a draft": {[]string{"app:1.0"}, "", []string{"docker.io/library/app:amd64\tlinux/amd64"}},
		"no such draft":      {[]string{"nosuch:1.0"}, "", nil},
	}
	dockerCLI, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	cmd := newAnnotateCommand(dockerCLI)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _ := completeDraftEntries(cmd, tc.args, tc.toComplete)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
