package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type copyOptions struct {
	source, destination string
	platforms           platformList
	mediaType           string
	referrers           bool
	jobs                int
	quiet               bool
	dryRun              bool
	format              string
	tags                []string
	allTags             bool
	include, exclude    []string
	sides
}

func newCopyCommand(dockerCLI command.Cli) *cobra.Command {
	var opts copyOptions
	cmd := &cobra.Command{
		Use:     "copy [OPTIONS] SOURCE DESTINATION",
		Aliases: []string{"cp"},
		Short:   "Copy a list with all its images, or one image, between repositories and registries",
		Long: `Copy a manifest list or OCI index with every manifest and blob it references
(nested indexes and attestations included), or a single image, within or
across registries and to or from local layouts. Digests are preserved: the
destination list is byte-identical to the source, Docker-typed lists included
in OCI layouts. What the destination already holds is not copied again;
within a registry, blobs are mounted.

SOURCE and DESTINATION are registry references, or oci:DIR[:TAG],
oci-archive:FILE[:TAG] or docker-archive:FILE[:REF] (one image: choose it
with --platform). SOURCE may also be a local draft: its list is copied with
every entry, each read from the repository it names (a note on stderr says
so when the draft has a registry reference's name; docker://REF always reads
the registry). A registry DESTINATION without a tag is tagged "latest",
and the summary says so. The copy is planned before anything is written;
--dry-run prints the plan: every manifest and blob with what the copy does
with it, the tag with the digest it holds and the one it gets, and the exact
number of registry requests the copy makes. The destination digest is printed
on stdout. -t TAG (repeatable) also tags a registry destination TAG, or
REGISTRY/REPOSITORY:TAG in another repository of its registry (mounted
there), in the same plan.

With --all-tags, SOURCE is a repository (or an oci: layout) and every tag of
it is copied to DESTINATION, a repository or an oci: layout (one index.json
name per tag), as one plan: what the tags share is read and written once, and
a tag that already holds its source's digest costs one HEAD on each side.
--include and --exclude (repeatable Go regular expressions, matched anywhere
in the tag: write "^1\.0$" for the whole tag) choose the tags. A tag whose
source cannot be read fails the command (exit 1) once the others are written;
--format json prints each tag's result (tag, old, new, status, error, note).
--platform subsets each tag's list as copy does (a tag that is a single image
is copied whole, and its result notes it; a list lacking one of them fails its
tag, as copy refuses it) and --media-type converts each tag, what tags share
converted once (a tag that cannot be converted fails alone). Both write
digests other than the source's, so each source tag is read with a GET rather
than a HEAD, and --media-type reads every tag's whole graph, even on a re-run
that writes nothing. With --referrers, what refers to the images of every tag
written is copied too (each image looked at once, each tag written once its
referrers are there); the source's referrer tags (sha256-<digest> and
sha256-<digest>.sig/.att/.sbom) come with their images rather than as tags of
their own, and the referrers of a tag the destination already holds are not
looked for.

--platform takes os/arch[/variant][:os.version]: "windows/amd64" selects the
Windows entries whatever their os.version and os.features,
"windows/amd64:10.0.17763" every update of that build, a whole os.version
that one alone.`,
		Example: `  docker mlist copy registry.example.com/app:1.0 mirror.example.com/app:1.0
  docker mlist copy --platform linux/amd64,linux/arm64 registry.example.com/app:1.0 mirror.example.com/app:1.0-slim
  docker mlist copy --dry-run --format json registry.example.com/app:1.0 mirror.example.com/app:1.0
  docker mlist copy registry.example.com/app:1.0 oci-archive:app-1.0.tar:1.0
  docker mlist copy -t 1 -t latest registry.example.com/app:1.0 mirror.example.com/app:1.0
  docker mlist copy registry.example.com/app:2.0-rc oci:app-layout:2.0-rc
  docker mlist copy --all-tags registry.example.com/app mirror.example.com/app
  docker mlist copy --all-tags --include '^1\.' --exclude '-arm' registry.example.com/app oci:app-tags`,
		Args:                  cli.ExactArgs(2),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeLocations,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return formatWithDryRun(cmd, opts.dryRun || opts.allTags)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.source, opts.destination = args[0], args[1]
			if opts.allTags {
				return runCopyAllTags(cmd.Context(), dockerCLI, opts)
			}
			if len(opts.include)+len(opts.exclude) > 0 {
				return errors.New("--include and --exclude select tags for --all-tags")
			}
			return runCopy(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	addPlatformFlag(flags, &opts.platforms, "Copy only these platforms and write a list of just them")
	flags.StringVar(&opts.mediaType, "media-type", "", `Convert to "docker" or "oci" manifests (changes digests)`)
	flags.BoolVar(&opts.referrers, "referrers", false, "Also copy what refers to the images: OCI referrers (referrers API, or sha256-<digest> tag-schema index; in oci: and oci-archive: layouts, index.json names), and cosign's sha256-<digest>.sig/.att/.sbom tags")
	flags.IntVarP(&opts.jobs, "jobs", "j", copy.DefaultJobs, "Blob transfers to run at once")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the destination digest")
	addDryRunFlag(flags, &opts.dryRun, "")
	flags.BoolVarP(&opts.allTags, "all-tags", "a", false, "Copy every tag of the SOURCE repository to the DESTINATION repository or oci: layout, as one plan")
	flags.StringArrayVar(&opts.include, "include", nil, `With --all-tags, copy only tags matching this Go regexp (repeatable; unanchored: write "^v1\." or "^v1$")`)
	flags.StringArrayVar(&opts.exclude, "exclude", nil, "With --all-tags, skip tags matching this Go regexp (repeatable; unanchored)")
	addFormatFlag(flags, &opts.format, "table", "the --dry-run plan", "with --all-tags, also the run's result per tag")
	addTagFlag(flags, &opts.tags)
	opts.sides.install(flags)
	return cmd
}

func runCopy(ctx context.Context, dockerCLI command.Cli, opts copyOptions) error {
	in, err := copy.Resolve(opts.source, draftStore())
	if err != nil {
		return err
	}
	src := in.Location
	dst, err := copy.ParseLocation(opts.destination)
	if err != nil {
		return err
	}
	platforms, err := opts.platforms.platforms()
	if err != nil {
		return err
	}
	mediaType, err := manifestlist.ParseListType(opts.mediaType)
	if err != nil {
		return err
	}
	if opts.jobs < 1 {
		return fmt.Errorf("invalid --jobs %d: must be at least 1", opts.jobs)
	}
	var tags []registry.Reference
	if len(opts.tags) > 0 {
		if dst.Registry == nil {
			return fmt.Errorf("-t %s: %s is not a registry; extra tags are written to registries", opts.tags[0], dst)
		}
		if tags, err = copy.ParseTags(*dst.Registry, opts.tags); err != nil {
			return err
		}
	}
	if dst.Transport() == "docker-archive" && len(platforms) > 1 {
		return fmt.Errorf("copy %s to %s: a docker-archive holds one image; give one --platform, not %d", in, dst, len(platforms))
	}
	// Each side's credentials are parsed once, here, whatever the sides are:
	// a parse may prompt for a password, and a bad --src-creds or
	// --dest-creds is refused even when only local layouts are involved.
	srcSess, dstSess, err := opts.sessions(dockerCLI)
	if err != nil {
		return err
	}
	copyOpts := copy.Options{Platforms: platforms, Referrers: opts.referrers, MediaType: mediaType, Jobs: opts.jobs, DryRun: opts.dryRun, Tags: tags}
	if src.Registry == nil || dst.Registry == nil {
		// Local transports only: no registry is reached through it.
		copyOpts.SystemContext = systemContext()
	}
	if note := in.ShadowNote(); note != "" && !opts.quiet {
		fmt.Fprintln(dockerCLI.Err(), termText(note))
	}
	stats, stopProgress := startProgress(dockerCLI, opts.quiet || opts.dryRun, "Copying")
	plan, err := copy.PlanCopyFrom(ctx, in, dst, srcSess, dstSess, copyOpts, stats)
	if err == nil {
		defer plan.Close()
		if dst.Registry != nil && !dst.Tagged {
			plan.DefaultTag = true
		}
		if !opts.dryRun {
			err = copy.Execute(ctx, plan)
		}
	}
	stopProgress()
	printWarnings(dockerCLI.Err(), plan)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", in, dst, err)
	}
	if opts.dryRun {
		return writePlan(dockerCLI.Out(), opts.format, plan)
	}
	if !opts.quiet {
		copySummary(dockerCLI.Err(), in, dst, plan, stats)
	}
	fmt.Fprintln(dockerCLI.Out(), plan.Digest)
	return nil
}

// copySummary says what the copy wrote, in the right numbers, and every
// choice it made for the user: the tag, a one-entry list.
func copySummary(w io.Writer, src fmt.Stringer, dst copy.Location, p *copy.Plan, stats *copy.Stats) {
	if p.Unchanged {
		unchangedSummary(w, dst.String(), p)
		return
	}
	counts, _ := stats.Snapshot()
	what := "a single image"
	if p.Kind == "list" {
		what = "a list of " + plural(p.Entries, "entry")
	}
	if p.Converted != "" {
		what += ", converted to " + termText(p.Converted)
	}
	var where string
	switch {
	case dst.Registry != nil && len(p.Tags) > 0 && p.DefaultTag:
		where = fmt.Sprintf(", tagged %q (the destination named no tag)", dst.Registry.Tag)
	case dst.Registry != nil && dst.Registry.Tag == "" && len(p.Tags) > 0:
		// By digest, with -t: the extra tags are all it is tagged.
		var tags []string
		for _, t := range p.Tags {
			tags = append(tags, termText(t.Tag))
		}
		where = ", by digest and as " + strings.Join(tags, ", ")
	case dst.Registry != nil && len(p.Tags) > 0:
		where = fmt.Sprintf(", tagged %q", dst.Registry.Tag)
	case dst.Registry != nil:
		where = ", by digest only (no tag)"
	}
	runSummary(w, fmt.Sprintf("Copied %s to %s", termText(src.String()), termText(dst.String())), p, counts)
	fmt.Fprintf(w, "The destination holds %s: %s%s\n", termText(p.Digest.String()), what, where)
}

// printWarnings prints what a copy's plan left behind (--referrers).
func printWarnings(w io.Writer, plan *copy.Plan) {
	if plan == nil {
		return
	}
	for _, warning := range plan.Warnings {
		fmt.Fprintln(w, "WARNING:", termText(warning))
	}
}
