package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// mergeAttempts bounds how often a merge is planned again when DESTINATION
// changes under it.
const mergeAttempts = 3

type mergeOptions struct {
	source, destination string
	target              string
	match               string
	platforms           string
	mediaType           string
	dryRun              bool
	format              string
	quiet               bool
	sides
}

func newMergeCommand(dockerCLI command.Cli) *cobra.Command {
	var opts mergeOptions
	cmd := &cobra.Command{
		Use:   "merge [OPTIONS] SOURCE DESTINATION",
		Short: "Merge a newer list or image into an existing list",
		Long: `Merge SOURCE (a list, or a single image) into the list DESTINATION.

The result holds every SOURCE entry plus every DESTINATION entry whose platform
SOURCE lacks; platforms are os, architecture, variant and os.version together
(--match arch compares architecture only, as pubtools-quay does). Attestation
entries follow the image they describe. Entries that live elsewhere are made
present in the target repository first and the list is written last. If
DESTINATION changes while the merge runs, the merge is planned again.`,
		Example: `  docker mlist merge registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge --platforms linux/arm64 --dry-run registry.example.com/app:build-42 registry.example.com/app:1.0
  docker mlist merge --target registry.example.com/app:1.1 registry.example.com/app:build-42 registry.example.com/app:1.0`,
		Args:                  cli.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.source, opts.destination = args[0], args[1]
			return runMerge(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.target, "target", "", "Write the result here instead of DESTINATION (DESTINATION is only read)")
	flags.StringVar(&opts.match, "match", "platform", `What identifies an entry: "platform" (os/arch/variant/os.version) or "arch"`)
	flags.StringVar(&opts.platforms, "platforms", "", "Take only these platforms from SOURCE (comma separated), keep everything else of DESTINATION")
	flags.StringVar(&opts.mediaType, "media-type", "", `Result list type: "docker" or "oci" (default: DESTINATION's)`)
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Print the plan and write nothing")
	flags.StringVar(&opts.format, "format", "", "Format the --dry-run plan: \"json\", \"table\" or a Go template")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the written digest")
	opts.sides.install(flags)
	return cmd
}

// mergePlan is what --dry-run prints.
type mergePlan struct {
	Source            string         `json:"source"`
	Destination       string         `json:"destination"`
	Target            string         `json:"target"`
	SourceDigest      digest.Digest  `json:"sourceDigest"`
	DestinationDigest digest.Digest  `json:"destinationDigest,omitempty"`
	ResultDigest      digest.Digest  `json:"resultDigest"`
	MediaType         string         `json:"mediaType"`
	Unchanged         bool           `json:"unchanged"`
	Changes           []planChange   `json:"changes"`
	Transfers         []planTransfer `json:"transfers"`
	Notes             []string       `json:"notes,omitempty"`
}

type planChange struct {
	Platform    string        `json:"platform"`
	Action      string        `json:"action"`
	Old         digest.Digest `json:"old,omitempty"`
	New         digest.Digest `json:"new,omitempty"`
	Attestation bool          `json:"attestation,omitempty"`
	Subject     digest.Digest `json:"subject,omitempty"`
}

// planTransfer is a manifest that must be brought into the target repository.
type planTransfer struct {
	Manifest digest.Digest `json:"manifest"`
	From     string        `json:"from"`
	How      string        `json:"how"` // "mount" within a registry, "copy" across registries
}

// mergeRequest is a parsed merge: what to read, where to write, and the rules.
type mergeRequest struct {
	src, dst, target registry.Reference
	rules            manifestlist.MergeOptions
}

func parseMerge(opts mergeOptions) (mergeRequest, error) {
	var req mergeRequest
	var err error
	if req.src, err = registry.ParseReference(opts.source); err != nil {
		return req, err
	}
	if req.dst, err = registry.ParseReference(opts.destination); err != nil {
		return req, err
	}
	if req.dst.Digest != "" {
		return req, fmt.Errorf("invalid destination %q: a list to update is named by a tag, not a digest", opts.destination)
	}
	req.target = req.dst
	if opts.target != "" {
		if req.target, err = registry.ParseReference(opts.target); err != nil {
			return req, err
		}
		if req.target.Digest != "" {
			return req, fmt.Errorf("invalid --target %q: name it by a tag, not a digest", opts.target)
		}
	}
	switch opts.match {
	case "platform":
		req.rules.Match = manifestlist.MatchPlatform
	case "arch":
		req.rules.Match = manifestlist.MatchArch
	default:
		return req, fmt.Errorf("invalid --match %q: accepted: platform, arch", opts.match)
	}
	if opts.platforms != "" {
		if req.rules.Platforms, err = manifestlist.ParsePlatforms(opts.platforms); err != nil {
			return req, err
		}
	}
	req.rules.MediaType, err = manifestlist.ParseListType(opts.mediaType)
	return req, err
}

// writesDestination reports whether the result goes back to DESTINATION,
// the case where a concurrent push must be looked for.
func (r mergeRequest) writesDestination() bool {
	return r.target.Name() == r.dst.Name() && r.target.Tag == r.dst.Tag
}

func runMerge(ctx context.Context, dockerCLI command.Cli, opts mergeOptions) error {
	req, err := parseMerge(opts)
	if err != nil {
		return err
	}
	srcSess, dstSess, err := opts.sessions(dockerCLI)
	if err != nil {
		return err
	}
	srcSess.Want(req.src.Host, req.src.Repository, "pull")
	dstSess.Want(req.dst.Host, req.dst.Repository, "pull")
	if !opts.dryRun {
		dstSess.Want(req.target.Host, req.target.Repository, "pull", "push")
		if srcSess == dstSess && req.src.Host == req.target.Host {
			dstSess.Want(req.src.Host, req.src.Repository, "pull") // one token that also allows the mounts
		}
	}
	var log io.Writer = dockerCLI.Err()
	if opts.quiet {
		log = io.Discard
	}
	srcRead, dstRead, err := readSides(ctx, srcSess, dstSess, req)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	tc, err := dstSess.Client(ctx, req.target.Host)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		plan, raw, mediaType, err := planMerge(srcRead, dstRead, req.target, req.rules)
		if err != nil {
			return fmt.Errorf("merge %s into %s: %w", req.src, req.dst, err)
		}
		for _, n := range plan.Notes {
			fmt.Fprintln(log, "note:", termText(n))
		}
		if opts.dryRun {
			return printMergePlan(dockerCLI.Out(), opts.format, plan)
		}
		if plan.Unchanged {
			fmt.Fprintf(log, "%s unchanged\n", req.target)
			fmt.Fprintln(dockerCLI.Out(), plan.ResultDigest)
			return nil
		}
		if err := bringEntries(ctx, srcSess, dstSess, plan, tc, req.target); err != nil {
			return fmt.Errorf("merge into %s: %w", req.target, err)
		}
		if req.writesDestination() {
			// Someone may have pushed DESTINATION since it was read: never
			// overwrite that blindly, plan again from what is there now.
			changed, now, err := destinationChanged(ctx, tc, req.dst, dstRead)
			if err != nil {
				return err
			}
			if changed {
				if attempt == mergeAttempts {
					return fmt.Errorf("merge into %s: it kept changing while merging (%d attempts); nothing written", req.dst, attempt)
				}
				fmt.Fprintf(log, "%s changed while merging (now %s); planning again\n", req.dst, orNone(now))
				if dstRead, err = readDestination(ctx, tc, req.dst); err != nil {
					return err
				}
				continue
			}
		}
		d, err := tc.PutManifest(ctx, req.target.Repository, req.target.Tag, raw, mediaType)
		if err != nil {
			return fmt.Errorf("merge into %s: %w", req.target, err)
		}
		summarise(log, plan)
		fmt.Fprintln(dockerCLI.Out(), d)
		return nil
	}
}

// readSides reads SOURCE and DESTINATION at once; a missing DESTINATION is nil.
func readSides(ctx context.Context, srcSess, dstSess *registry.Session, req mergeRequest) (src, dst *listRead, err error) {
	sides := []func(context.Context) error{
		func(ctx context.Context) error {
			c, err := srcSess.Client(ctx, req.src.Host)
			if err == nil {
				src, err = readList(ctx, c, req.src)
			}
			return err
		},
		func(ctx context.Context) error {
			c, err := dstSess.Client(ctx, req.dst.Host)
			if err == nil {
				dst, err = readDestination(ctx, c, req.dst)
			}
			return err
		},
	}
	err = copy.ForEach(ctx, sides, func(ctx context.Context, _ int, read func(context.Context) error) error { return read(ctx) })
	return src, dst, err
}

func readDestination(ctx context.Context, c *registry.Client, ref registry.Reference) (*listRead, error) {
	r, err := readList(ctx, c, ref)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, nil
	}
	return r, err
}

// destinationChanged compares what DESTINATION's tag points at now with
// what was read (nil: it did not exist).
func destinationChanged(ctx context.Context, c *registry.Client, ref registry.Reference, read *listRead) (bool, digest.Digest, error) {
	now, err := currentDigest(ctx, c, ref)
	if err != nil {
		return false, "", err
	}
	var was digest.Digest
	if read != nil {
		was = read.digest
	}
	return now != was, now, nil
}

func orNone(d digest.Digest) string {
	if d == "" {
		return "deleted"
	}
	return d.String()
}

// currentDigest is the digest ref's tag points at now, "" when it has none.
func currentDigest(ctx context.Context, c *registry.Client, ref registry.Reference) (digest.Digest, error) {
	desc, err := c.HeadManifest(ctx, ref.Repository, ref.Tag)
	if errors.Is(err, registry.ErrNotFound) {
		return "", nil
	}
	return desc.Digest, err
}

// planMerge merges the two reads and decides the bytes to write.
func planMerge(src, dst *listRead, target registry.Reference, opts manifestlist.MergeOptions) (*mergePlan, []byte, string, error) {
	var dstList *manifestlist.List
	if dst != nil {
		dstList = dst.list
	}
	result, p, err := manifestlist.Merge(src.list, dstList, opts)
	if err != nil {
		return nil, nil, "", err
	}
	var raw []byte
	switch {
	case p.Unchanged && dst != nil:
		raw = dst.raw
	case p.SameAsSource && src.single == nil:
		// The source's own bytes keep its digest.
		raw = src.raw
	default:
		if raw, err = result.Serialize(); err != nil {
			return nil, nil, "", err
		}
	}
	plan := &mergePlan{
		Source: src.ref.String(), Target: target.String(), SourceDigest: src.digest,
		ResultDigest: digest.FromBytes(raw), MediaType: result.MediaType, Notes: p.Warnings,
	}
	if p.TypeChanged != "" {
		plan.Notes = append(plan.Notes, p.TypeChanged)
	}
	if dst != nil {
		plan.Destination, plan.DestinationDigest = dst.ref.String(), dst.digest
		plan.Unchanged = p.Unchanged && target.Name() == dst.ref.Name() && target.Tag == dst.ref.Tag
	}
	for _, c := range p.Changes {
		plan.Changes = append(plan.Changes, planChange{Platform: c.Platform, Action: string(c.Action), Old: c.Old, New: c.New, Attestation: c.Attestation, Subject: c.Subject})
	}
	// Entries are brought from wherever they live unless already in the
	// target repository.
	inDst := map[digest.Digest]bool{}
	if dst != nil {
		for _, m := range dst.list.Manifests {
			inDst[m.Digest] = true
		}
	}
	for _, m := range result.Manifests {
		from := src.ref
		if inDst[m.Digest] {
			from = dst.ref
		}
		if from.Name() == target.Name() {
			continue
		}
		how := "mount"
		if from.Host != target.Host {
			how = "copy"
		}
		plan.Transfers = append(plan.Transfers, planTransfer{Manifest: m.Digest, From: from.Name(), How: how})
	}
	return plan, raw, result.MediaType, nil
}

// bringEntries makes every entry the plan names present in the target repository.
func bringEntries(ctx context.Context, srcSess, dstSess *registry.Session, plan *mergePlan, tc *registry.Client, target registry.Reference) error {
	var stats copy.Stats
	err := copy.ForEach(ctx, plan.Transfers, func(ctx context.Context, _ int, t planTransfer) error {
		from, err := registry.ParseReference(t.From + "@" + t.Manifest.String())
		if err != nil {
			return err
		}
		sess := srcSess
		if t.From == plan.Destination || strings.HasPrefix(plan.Destination, t.From+":") {
			sess = dstSess
		}
		fc, err := sess.Client(ctx, from.Host)
		if err != nil {
			return err
		}
		return copy.Transfer(ctx, copy.Endpoint{Client: fc, Repository: from.Repository},
			copy.Endpoint{Client: tc, Repository: target.Repository}, copy.Manifest{Digest: t.Manifest}, &stats)
	})
	return err
}

func summarise(w io.Writer, plan *mergePlan) {
	counts := map[string]int{}
	for _, c := range plan.Changes {
		if !c.Attestation {
			counts[c.Action]++
		}
	}
	fmt.Fprintf(w, "Merged %s into %s: %d added, %d replaced, %d kept, %d dropped\n", plan.Source, plan.Target,
		counts["added"], counts["replaced"], counts["kept"], counts["dropped"])
}

func printMergePlan(w io.Writer, format string, plan *mergePlan) error {
	if format == "" {
		format = "table"
	}
	return writeFormatted(w, format, plan, func(tw *tabwriter.Writer) {
		// Platforms, digests and media types come from the registries' lists.
		fmt.Fprintf(tw, "Merge %s into %s (dry run: nothing written)\n", termText(plan.Source), termText(plan.Target))
		if plan.Unchanged {
			fmt.Fprintf(tw, "Result equals %s: nothing to write\n", termText(plan.Destination))
		}
		fmt.Fprintln(tw, "PLATFORM\tACTION\tDIGEST")
		for _, c := range plan.Changes {
			p := termText(c.Platform)
			if c.Attestation {
				p = "attestation of " + termText(shortDigest(c.Subject))
			}
			if p == "" {
				p = "(no platform)"
			}
			d := c.New
			switch c.Action {
			case "replaced":
				fmt.Fprintf(tw, "%s\t%s\t%s → %s\n", p, c.Action, termText(c.Old.String()), termText(c.New.String()))
				continue
			case "kept", "dropped":
				d = c.Old
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p, c.Action, termText(d.String()))
		}
		for _, t := range plan.Transfers {
			fmt.Fprintf(tw, "would %s\t%s\tfrom %s\n", t.How, termText(t.Manifest.String()), termText(t.From))
		}
		fmt.Fprintf(tw, "Result: %s (%s)\n", plan.ResultDigest, termText(plan.MediaType))
	})
}

// shortDigest is the first 12 hex digits of d, or d itself when it is not
// that long (a registry's list may carry anything as a digest).
func shortDigest(d digest.Digest) string {
	if e := d.Encoded(); len(e) >= 12 {
		return e[:12]
	}
	return d.String()
}
