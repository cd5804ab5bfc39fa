package plugin

import (
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/spf13/cobra"
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
// keyed by flag name; every command with such a flag completes them.
var fixedFlagValues = map[string][]string{
	"format":     {"json", "table"},
	"media-type": {"docker", "oci"},
	"match":      {"platform", "arch"},
	"os":         {"linux", "windows", "freebsd", "darwin"},
	"arch":       {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"},
	"variant":    {"v5", "v6", "v7", "v8"},
}

// registerCompletions gives every flag with a fixed set of values, and every
// platform flag, its completion, across the whole command tree.
func registerCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for name, values := range fixedFlagValues {
			if cmd.Flags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
			}
		}
		for _, name := range []string{"platform", "platforms"} {
			if cmd.Flags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, completePlatformList)
			}
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
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
