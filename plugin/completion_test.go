package plugin

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// flagAcceptors check a flag's value the way the commands do, for every
// flag whose completion offers values: a completion offering a value the
// command refuses is wrong. format goes through the flag itself.
var flagAcceptors = map[string]func(f *pflag.Flag, v string) error{
	"format": func(f *pflag.Flag, v string) error { return f.Value.Set(v) },
	"media-type": func(_ *pflag.Flag, v string) error {
		_, err := manifestlist.ParseListType(v)
		return err
	},
	"match": func(_ *pflag.Flag, v string) error {
		_, err := manifestlist.ParseMatchMode(v)
		return err
	},
	"platform":  parsePlatform(""),
	"platforms": parsePlatform(""),
	"os":        func(_ *pflag.Flag, v string) error { return parsePlatform("")(nil, v+"/amd64") },
	"arch":      func(_ *pflag.Flag, v string) error { return parsePlatform("linux/")(nil, v) },
	"variant":   func(_ *pflag.Flag, v string) error { return parsePlatform("linux/arm/")(nil, v) },
}

func parsePlatform(prefix string) func(*pflag.Flag, string) error {
	return func(_ *pflag.Flag, v string) error {
		_, err := manifestlist.ParsePlatforms(prefix + v)
		return err
	}
}

// namesFile are the flags that name a file, with the extensions offered.
var namesFile = map[string][]string{"spec": {"yaml", "yml"}}

// closedSets are the flags whose accepted values are a fixed set (a
// template aside, for --format): the completion offers exactly that set.
var closedSets = map[string][]string{
	"format":     {"table", "json"},
	"media-type": {"docker", "oci"},
	"match":      {"platform", "arch"},
}

// Every flag of every command completes only values the command accepts:
// a fixed set completely, files only where the flag names a file, and
// nothing where the shell would otherwise offer files for a count, a
// reference or credentials.
func TestFlagCompletionsAreAccepted(t *testing.T) {
	dockerCLI, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	root := NewRootCommand(dockerCLI)
	seen := map[string]bool{}
	for _, cmd := range append([]*cobra.Command{root}, root.Commands()...) {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				return
			}
			seen[f.Name] = true
			t.Run(cmd.Name()+"/--"+f.Name, func(t *testing.T) {
				complete, ok := cmd.GetFlagCompletionFunc(f.Name)
				if !ok {
					t.Fatal("no completion")
				}
				got, dir := complete(cmd, nil, "")
				accept, offers := flagAcceptors[f.Name]
				switch exts, file := namesFile[f.Name]; {
				case offers:
					if len(got) == 0 || dir != cobra.ShellCompDirectiveNoFileComp && dir != cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace {
						t.Fatalf("got %q, directive %v", got, dir)
					}
					for _, v := range got {
						if err := accept(f, v); err != nil {
							t.Errorf("offers %q, which the command refuses: %v", v, err)
						}
					}
					if set, closed := closedSets[f.Name]; closed {
						if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(set))) {
							t.Errorf("offers %q, the command accepts %q", got, set)
						}
						if err := accept(f, "yaml"); err == nil {
							t.Errorf("accepts yaml, which the completion does not offer")
						}
					}
				case file:
					if dir != cobra.ShellCompDirectiveFilterFileExt || !slices.Equal(got, exts) {
						t.Errorf("got %q, directive %v; want files %q", got, dir, exts)
					}
				default:
					if len(got) != 0 || dir != cobra.ShellCompDirectiveNoFileComp {
						t.Errorf("a free value: got %q, directive %v; want nothing, no files", got, dir)
					}
				}
			})
		})
	}
	for name := range flagAcceptors {
		if !seen[name] {
			t.Errorf("flagAcceptors names --%s, which no command has", name)
		}
	}
}

// copy and merge complete the transports, draft names for SOURCE, and
// after a transport the paths it may name: directories for oci:, files too
// for archives; merge's DESTINATION only docker://. Every offer is a
// location the command takes there.
func TestCompleteLocations(t *testing.T) {
	dir := t.TempDir()
	old := config.Dir()
	config.SetDir(t.TempDir()) // not in dir, whose paths are completed
	t.Cleanup(func() { config.SetDir(old) })
	t.Chdir(dir)
	raw := []byte(`{"schemaVersion":2}`)
	draft := &manifestlist.Draft{Name: "registry.example.com/app:rc", Entries: []manifestlist.Entry{{
		Source: "registry.example.com/app:amd64", Raw: raw,
		Descriptor: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)),
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}},
	}}}
	if err := manifestlist.NewStore(config.Dir()).Save(draft); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"layout", ".hidden"} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("app.tar", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noSpace := cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	tests := map[string]struct {
		command    string
		args       []string
		toComplete string
		want       []string
		directive  cobra.ShellCompDirective
	}{
		"transports":        {"copy", nil, "", []string{"docker-archive:", "oci-archive:", "oci:", "docker://", "registry.example.com/app:rc"}, noSpace},
		"draft source":      {"copy", nil, "reg", []string{"registry.example.com/app:rc"}, cobra.ShellCompDirectiveNoFileComp},
		"no draft dest":     {"copy", []string{"src"}, "reg", nil, cobra.ShellCompDirectiveNoFileComp},
		"merge source":      {"merge", nil, "", []string{"docker-archive:", "oci-archive:", "oci:", "docker://", "registry.example.com/app:rc"}, noSpace},
		"merge dest":        {"merge", []string{"src"}, "", []string{"docker://"}, noSpace},
		"merge dest layout": {"merge", []string{"src"}, "oci:", nil, cobra.ShellCompDirectiveNoFileComp},
		"oci prefixes":      {"copy", nil, "oci", []string{"oci-archive:", "oci:"}, noSpace},
		"oci: directories":  {"copy", nil, "oci:", []string{"oci:layout/"}, noSpace},
		"archive files":     {"copy", []string{"src"}, "oci-archive:", []string{"oci-archive:app.tar", "oci-archive:layout/"}, noSpace},
		"archive prefix":    {"copy", nil, "docker-archive:a", []string{"docker-archive:app.tar"}, noSpace},
		"hidden when asked": {"copy", nil, "oci:.", []string{"oci:.hidden/"}, noSpace},
		"registry":          {"copy", nil, "docker://", nil, cobra.ShellCompDirectiveNoFileComp},
		"both given":        {"copy", []string{"a", "b"}, "", nil, cobra.ShellCompDirectiveNoFileComp},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, dir := completeLocations(&cobra.Command{Use: tc.command}, tc.args, tc.toComplete)
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) || dir != tc.directive {
				t.Errorf("got %q %v, want %q %v", got, dir, tc.want, tc.directive)
			}
			for _, loc := range got {
				if strings.HasSuffix(loc, ":") || strings.HasSuffix(loc, "//") {
					loc += "x"
				}
				if _, err := copy.ParseLocation(loc); err != nil {
					t.Errorf("offers %q, which copy refuses: %v", loc, err)
				}
			}
		})
	}
}
