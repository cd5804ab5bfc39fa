package plugin

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Shell completion runs through `docker __complete mlist ...`, which execs
// the plugin with cobra's hidden __complete command: no PersistentPreRunE
// runs, so completions read only the draft store (config.Dir() follows
// DOCKER_CONFIG) and never reach a registry or an engine.

// completionPlatforms are the platforms offered for --platform(s): those
// images are commonly built for. Any other valid platform is still accepted.
var completionPlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386",
	"linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/mips64le", "linux/loong64",
	"windows/amd64", "windows/arm64",
}

// fixedFlagValues are the values of flags that take one of a fixed set,
// keyed by flag name; every command with such a flag completes them. Where
// the command checks the value against a list, the completion is that list.
var fixedFlagValues = map[string][]string{
	"format":     formatNames,
	"media-type": manifestlist.ListTypes,
	"match":      manifestlist.MatchModeNames,
	"os":         {"linux", "windows", "freebsd", "darwin"},
	"arch":       {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"},
	"variant":    {"v5", "v6", "v7", "v8"},
}

// platformFlags complete a platform list.
var platformFlags = []string{"platform", "platforms"}

// fileFlags name a file, completed with these extensions.
var fileFlags = map[string][]string{"spec": {"yaml", "yml"}}

// registerCompletions gives every flag of the command tree its completion:
// a fixed set, platforms, files for a flag that names one, and nothing for
// the other flags that take a value (a count, a reference, credentials),
// where the shell would otherwise offer files. A command that completes no
// arguments offers no files either.
func registerCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				return
			}
			_ = cmd.RegisterFlagCompletionFunc(f.Name, flagCompletion(f.Name))
		})
		if cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
			cmd.ValidArgsFunction = cobra.NoFileCompletions
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// flagCompletion is the completion of the flag named name, whatever the
// command.
func flagCompletion(name string) cobra.CompletionFunc {
	if values, ok := fixedFlagValues[name]; ok {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	if slices.Contains(platformFlags, name) {
		return completePlatformList
	}
	if exts, ok := fileFlags[name]; ok {
		return cobra.FixedCompletions(exts, cobra.ShellCompDirectiveFilterFileExt)
	}
	return cobra.NoFileCompletions
}

// transportPrefixes are what a copy location may start with besides a
// registry reference: the local transports, and docker:// (the registry).
func transportPrefixes() []string {
	var out []string
	for _, t := range copy.LocalTransports() {
		out = append(out, t+":")
	}
	return append(out, "docker://")
}

// completeLocations completes copy's and merge's SOURCE and DESTINATION:
// a transport prefix, and for SOURCE a draft name (a draft is named by its
// registry reference; copy and merge read drafts, neither writes one);
// after a local transport's prefix, the directories and (for archives)
// files its path may name. merge's DESTINATION is a registry list: only
// docker:// is offered.
func completeLocations(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) >= 2 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	source := len(args) == 0
	layouts := source || cmd == nil || cmd.Name() != "merge"
	for _, t := range copy.LocalTransports() {
		if rest, ok := strings.CutPrefix(toComplete, t+":"); ok && layouts {
			return localPaths(t+":", rest, t != "oci"), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
	}
	if strings.HasPrefix(toComplete, "docker://") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, p := range transportPrefixes() {
		if strings.HasPrefix(p, toComplete) && (layouts || p == "docker://") {
			out = append(out, p)
		}
	}
	directive := cobra.ShellCompDirectiveNoFileComp
	if len(out) > 0 {
		directive |= cobra.ShellCompDirectiveNoSpace // the path follows the prefix
	}
	if source {
		out = append(out, draftNames(nil, toComplete)...)
	}
	return out, directive
}

// localPaths lists prefix+PATH for the entries of the directory path names
// that begin with its last element: directories (ending in /, to go on),
// and files when files is set. Hidden entries only when asked for with a
// leading dot.
func localPaths(prefix, path string, files bool) []string {
	dir, base := filepath.Split(path)
	read := dir
	if read == "" {
		read = "."
	}
	entries, err := os.ReadDir(read)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		switch {
		case e.IsDir():
			out = append(out, prefix+dir+name+"/")
		case files:
			out = append(out, prefix+dir+name)
		}
	}
	return out
}

// completePlatformList completes a comma-separated platform list: the part
// before the last comma is kept, and platforms already in it are not offered
// again.
func completePlatformList(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	done, last := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	chosen := strings.Split(done, ",")
	var out []string
	for _, p := range completionPlatforms {
		if strings.HasPrefix(p, last) && !slices.Contains(chosen, p) {
			out = append(out, done+p)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeDrafts completes draft names for the first argument (every
// argument for rm, which takes several drafts).
func completeDrafts(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 && cmd.Name() != "rm" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return draftNames(args, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeDraftEntries completes a draft name first, then the entries of
// that draft: annotate takes one entry, drop several.
func completeDraftEntries(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch {
	case len(args) == 0:
		return draftNames(nil, toComplete), cobra.ShellCompDirectiveNoFileComp
	case len(args) > 1 && cmd.Name() == "annotate":
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	name, err := listName(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	draft, err := draftStore().Get(name)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return entryCandidates(draft, args[1:], toComplete), cobra.ShellCompDirectiveNoFileComp
}

// draftNames lists the drafts as the references they are (not the escaped
// directory names of the store). A Docker Hub draft also matches its short
// form, so "app<TAB>" finds docker.io/library/app:1.0.
func draftNames(exclude []string, toComplete string) []string {
	drafts, _, err := draftStore().List()
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range drafts {
		if slices.Contains(exclude, d.Name) {
			continue
		}
		switch short := familiar(d.Name); {
		case strings.HasPrefix(d.Name, toComplete):
			out = append(out, d.Name)
		case short != d.Name && strings.HasPrefix(short, toComplete) && !slices.Contains(exclude, short):
			out = append(out, short)
		}
	}
	return out
}

// entryCandidates names each entry of a draft by its source reference (by
// digest when it has none), described by its platform; attestations are
// left out, since they follow their image.
func entryCandidates(d *manifestlist.Draft, exclude []string, toComplete string) []string {
	var out []string
	for _, e := range d.Entries {
		if manifestlist.IsAttestation(e.Descriptor) {
			continue
		}
		name := e.Source
		if name == "" {
			name = e.Descriptor.Digest.String()
		}
		if !strings.HasPrefix(name, toComplete) || slices.Contains(exclude, name) {
			continue
		}
		if p := manifestlist.FormatPlatform(e.Descriptor.Platform); p != "" {
			name += "\t" + p
		}
		out = append(out, name)
	}
	return out
}

func familiar(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarString(named)
}
