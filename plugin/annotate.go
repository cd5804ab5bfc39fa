package plugin

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type annotateOptions struct {
	list, entry      string
	os, arch         string
	variant          string
	osVersion        string
	osFeatures       []string
	annotations      []string
	indexAnnotations []string
}

func newAnnotateCommand(dockerCLI command.Cli) *cobra.Command {
	var opts annotateOptions
	cmd := &cobra.Command{
		Use:   "annotate [OPTIONS] LIST ENTRY",
		Short: "Set the platform and annotations of a draft's entry",
		Long: `Set the platform and annotations of an entry of a local draft.

ENTRY is the entry's platform (linux/arm/v7, windows/amd64:10.0.17763; its
os.features need not be named), its digest, or a unique prefix of at least
12 hex digits with or without sha256:, or its source reference.`,
		Example: `  docker mlist annotate --variant v7 registry.example.com/app:1.0 registry.example.com/app:1.0-arm
  docker mlist annotate --os-version 10.0.17763.5329 registry.example.com/app:1.0 windows/amd64
  docker mlist annotate --annotation org.opencontainers.image.source=https://example.com/app \
      --index-annotation org.opencontainers.image.version=1.0 registry.example.com/app:1.0 linux/amd64`,
		Args:                  cli.ExactArgs(2),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDraftEntries,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.list, opts.entry = args[0], args[1]
			return runAnnotate(dockerCLI, opts, cmd.Flags().Changed)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.os, "os", "", "Operating system")
	flags.StringVar(&opts.arch, "arch", "", "Architecture")
	flags.StringVar(&opts.variant, "variant", "", "Architecture variant (v6, v7, v8, ...)")
	flags.StringVar(&opts.osVersion, "os-version", "", "Operating system version (Windows builds)")
	flags.StringSliceVar(&opts.osFeatures, "os-features", nil, "Operating system features")
	flags.StringArrayVar(&opts.annotations, "annotation", nil, "Set an annotation KEY=VALUE on the entry (repeatable; KEY= removes it)")
	flags.StringArrayVar(&opts.indexAnnotations, "index-annotation", nil, "Set an annotation KEY=VALUE on the list itself (repeatable; KEY= removes it)")
	return cmd
}

func runAnnotate(dockerCLI command.Cli, opts annotateOptions, changed func(string) bool) error {
	name, err := listName(opts.list)
	if err != nil {
		return err
	}
	entryAnn, err := parseAnnotations(opts.annotations)
	if err != nil {
		return err
	}
	indexAnn, err := parseAnnotations(opts.indexAnnotations)
	if err != nil {
		return err
	}
	// Read, changed and written under the draft's lock, so concurrent
	// annotations of one draft all stay.
	var (
		editErr   error
		annotated manifestlist.Entry
	)
	err = draftStore().Update(name, func(draft *manifestlist.Draft) error {
		annotated, editErr = annotateDraft(draft, opts, changed, entryAnn, indexAnn)
		return editErr
	})
	switch {
	case err == nil:
		warnContradictions(dockerCLI.Err(), name, []manifestlist.Entry{annotated})
		return nil
	case err == editErr:
		return err
	}
	return fmt.Errorf("annotate %s: %w", name, err)
}

// annotateDraft changes the entry opts names and returns it.
func annotateDraft(draft *manifestlist.Draft, opts annotateOptions, changed func(string) bool, entryAnn, indexAnn map[string]string) (manifestlist.Entry, error) {
	name := draft.Name
	i, err := draft.Find(opts.entry)
	if err != nil {
		return manifestlist.Entry{}, err
	}
	e := &draft.Entries[i]

	p := imgspecv1.Platform{}
	if e.Descriptor.Platform != nil {
		p = *e.Descriptor.Platform
	}
	if changed("os") {
		p.OS = opts.os
	}
	if changed("arch") {
		p.Architecture = opts.arch
	}
	if changed("variant") {
		p.Variant = opts.variant
	}
	if changed("os-version") {
		p.OSVersion = opts.osVersion
	}
	if changed("os-features") {
		if slices.ContainsFunc(opts.osFeatures, func(f string) bool { return strings.TrimSpace(f) == "" }) {
			return manifestlist.Entry{}, fmt.Errorf("invalid --os-features %q: an empty feature; give comma-separated names (win32k)", strings.Join(opts.osFeatures, ","))
		}
		p.OSFeatures = opts.osFeatures
	}
	if changed("os") || changed("arch") || changed("variant") || changed("os-version") || changed("os-features") {
		if err := manifestlist.ValidatePlatform(p); err != nil {
			return manifestlist.Entry{}, err
		}
		e.Descriptor.Platform = &p
	}
	e.Descriptor.Annotations = applyAnnotations(e.Descriptor.Annotations, entryAnn)
	draft.Annotations = applyAnnotations(draft.Annotations, indexAnn)

	if err := draft.CheckDuplicates(); err != nil {
		return manifestlist.Entry{}, err
	}
	// A list type that cannot carry what was set is an error now, not a
	// silent loss at push time.
	l, err := draft.List()
	if err != nil {
		return manifestlist.Entry{}, err
	}
	if l.MediaType != imgspecv1.MediaTypeImageIndex && (len(entryAnn) > 0 || len(indexAnn) > 0) {
		return manifestlist.Entry{}, fmt.Errorf("a Docker manifest list cannot carry annotations; recreate %s with --media-type oci", name)
	}
	return *e, nil
}

// parseAnnotations reads KEY=VALUE pairs; an empty VALUE deletes KEY.
func parseAnnotations(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("invalid annotation %q: expected KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func applyAnnotations(into, set map[string]string) map[string]string {
	if len(set) == 0 {
		return into
	}
	out := maps.Clone(into)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range set {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
