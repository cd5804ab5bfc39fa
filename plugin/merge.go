package plugin

import (
	"context"
	"fmt"
	"io"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type mergeOptions struct {
	source, destination string
	target              string
	match               string
	platforms           platformList
	mediaType           string
	dryRun              bool
	format              string
	quiet               bool
	tags                []string
	sides
}

func newMergeCommand(dockerCLI command.Cli) *cobra.Command {
	var opts mergeOptions
	cmd := &cobra.Command{
		Use:   "merge [OPTIONS] SOURCE DESTINATION",
		Short: "Merge a newer list or image into an existing list",
		Long: `Merge SOURCE (a list, or a single image) into the list DESTINATION.

SOURCE is a local draft, a registry reference, docker://REF (always the
registry, when a draft has the same name), oci:DIR[:TAG],
oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]; DESTINATION and --target
are registry references (REF or docker://REF).

The result holds every SOURCE entry plus every DESTINATION entry whose platform
SOURCE lacks; platforms are os, architecture, variant and os.version together
(--match arch compares architecture only, as pubtools-quay does). Attestation
entries follow the image they describe. Entries that live elsewhere are
written to the target repository first (blobs mounted within a registry,
copied across registries) and the list is written last. If DESTINATION
changes while the merge runs, the merge is planned again. --dry-run prints
the plan (each entry's change, what is mounted, copied and written, the tag
with the digest it holds and the one it gets, the exact number of registry
requests) in the words push and copy use. -t TAG (repeatable) also writes
the result under TAG, or REGISTRY/REPOSITORY:TAG in another repository of
the target's registry, in the same plan.`,
		Example: `  docker mlist merge registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge --platform linux/arm64 --dry-run registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge --target registry.example.com/app:1.1 registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge -t latest registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge oci:app-layout:build-43 registry.example.com/app:1.0`,
		Args:                  cli.ExactArgs(2),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeLocations,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return formatWithDryRun(cmd, opts.dryRun)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.source, opts.destination = args[0], args[1]
			return runMerge(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.target, "target", "", "Write the result here instead of DESTINATION (DESTINATION is only read)")
	flags.StringVar(&opts.match, "match", "platform", `What identifies an entry: "platform" (os/arch/variant/os.version) or "arch"`)
	addPlatformFlag(flags, &opts.platforms, "Take only these platforms from SOURCE, keep everything else of DESTINATION")
	flags.StringVar(&opts.mediaType, "media-type", "", `Result list type: "docker" or "oci" (default: DESTINATION's)`)
	addDryRunFlag(flags, &opts.dryRun, "")
	addFormatFlag(flags, &opts.format, "table", "the --dry-run plan", "")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the written digest")
	addTagFlag(flags, &opts.tags)
	opts.sides.install(flags)
	return cmd
}

// mergeRequest is a parsed merge: what to read, where to write, and the rules.
type mergeRequest struct {
	src         copy.Input
	dst, target registry.Reference
	rules       manifestlist.MergeOptions
	tags        []registry.Reference
}

// parseMerge resolves SOURCE as every command resolves what it reads (a
// draft in drafts, a registry reference, docker://REF or a layout), and
// DESTINATION and --target by the same rules, as registry references.
func parseMerge(opts mergeOptions, drafts *manifestlist.Store) (mergeRequest, error) {
	var req mergeRequest
	var err error
	if req.src, err = copy.Resolve(opts.source, drafts); err != nil {
		return req, err
	}
	if req.dst, err = registryArg("merge DESTINATION", opts.destination); err != nil {
		return req, err
	}
	if req.dst.Digest != "" {
		return req, fmt.Errorf("invalid merge DESTINATION %q: a list to update is named by a tag (REF:TAG), not a digest", opts.destination)
	}
	req.target = req.dst
	if opts.target != "" {
		if req.target, err = registryArg("--target", opts.target); err != nil {
			return req, err
		}
		if req.target.Digest != "" {
			return req, fmt.Errorf("invalid --target %q: a list to write is named by a tag (REF:TAG), not a digest", opts.target)
		}
	}
	if req.tags, err = copy.ParseTags(req.target, opts.tags); err != nil {
		return req, err
	}
	if req.rules.Match, err = manifestlist.ParseMatchMode(opts.match); err != nil {
		return req, err
	}
	if req.rules.Platforms, err = opts.platforms.platforms(); err != nil {
		return req, err
	}
	req.rules.MediaType, err = manifestlist.ParseListType(opts.mediaType)
	return req, err
}

func runMerge(ctx context.Context, dockerCLI command.Cli, opts mergeOptions) error {
	req, err := parseMerge(opts, draftStore())
	if err != nil {
		return err
	}
	srcSess, dstSess, err := opts.sessions(dockerCLI)
	if err != nil {
		return err
	}
	src := req.src.Location.Registry
	if req.src.Draft != nil {
		src = nil // its entries' repositories are declared as they are read
	}
	if src != nil {
		srcSess.Want(src.Host, src.Repository, "pull")
	}
	dstSess.Want(req.dst.Host, req.dst.Repository, "pull")
	if !opts.dryRun {
		dstSess.Want(req.target.Host, req.target.Repository, "pull", "push")
		if src != nil && srcSess == dstSess && src.Host == req.target.Host {
			dstSess.Want(src.Host, src.Repository, "pull") // one token that also allows the mounts
		}
	}
	copy.WantTags(dstSess, req.target, req.tags, opts.dryRun)
	if note := req.src.ShadowNote(); note != "" && !opts.quiet {
		fmt.Fprintln(dockerCLI.Err(), termText(note))
	}
	var log io.Writer = dockerCLI.Err()
	if opts.quiet {
		log = io.Discard
	}
	stats, stopProgress := startProgress(dockerCLI, opts.quiet || opts.dryRun, "Merging")
	mreq := copy.MergeRequest{
		SourceInput: &req.src, Destination: req.dst, Target: req.target, Rules: req.rules,
		SourceSession: srcSess, DestinationSession: dstSess, DryRun: opts.dryRun,
		Log: escapingWriter{log}, Stats: stats, Tags: req.tags,
	}
	if src != nil {
		mreq.Source = *src
	} else {
		mreq.SystemContext = systemContext()
	}
	res, err := copy.Merge(ctx, mreq)
	stopProgress()
	if err != nil {
		return err
	}
	plan := res.Plan
	plan.Draft = req.src.Draft != nil
	for _, n := range plan.Merge.Notes {
		fmt.Fprintln(log, "note:", termText(n))
	}
	if opts.dryRun {
		return writePlan(dockerCLI.Out(), opts.format, plan)
	}
	if !res.Written {
		unchangedSummary(log, req.target.String(), plan)
	} else {
		counts, _ := stats.Snapshot()
		mergeSummary(log, plan)
		runSummary(log, "Wrote "+termText(req.target.String()), plan, counts)
	}
	fmt.Fprintln(dockerCLI.Out(), res.Digest)
	return nil
}

// escapingWriter escapes what it passes on, for lines that carry
// registry-supplied text (a digest a registry answered with).
type escapingWriter struct{ w io.Writer }

func (e escapingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, termLines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
