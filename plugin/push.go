package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

type pushOptions struct {
	list     string
	spec     string
	quiet    bool
	purge    bool
	dryRun   bool
	format   string
	registry registryFlags
}

func newPushCommand(dockerCLI command.Cli) *cobra.Command {
	var opts pushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] LIST | --spec FILE",
		Short: "Push a draft to its registry",
		Long: `Push a local draft to the registry and repository its name says.

Entries whose manifests live in another repository of the same registry are
made present in the target repository first (blobs mounted, manifests put by
digest with their original bytes). The list is written last, so the tag never
points at a list with a missing entry. The list digest is printed on stdout.
A draft docker manifest create made is written as docker manifest push
writes it, so both give one digest. An entry whose platform contradicts the
image config create read gets a WARNING line on stderr.

--spec creates and pushes in one step from a manifest-tool YAML spec (image,
tags, manifests[].image, manifests[].platform, annotations); its sources may
live in any registry. Extra tags are written after the list.

--dry-run prints what would be mounted, copied, put and tagged, per entry,
with estimates of requests and bytes, and writes nothing (it only reads).`,
		Example: `  digest=$(docker mlist push --purge registry.example.com/app:1.0)
  docker mlist push --spec release.yaml
  docker mlist push --dry-run registry.example.com/app:1.0`,
		Args:                  cli.RequiresMaxArgs(1),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.spec != "" && len(args) == 0:
				return runPushSpec(cmd.Context(), dockerCLI, opts)
			case opts.spec == "" && len(args) == 1:
				opts.list = args[0]
				return runPush(cmd.Context(), dockerCLI, opts)
			}
			return errors.New(`"docker mlist push" requires either LIST or --spec FILE`)
		},
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if opts.format != "" && !opts.dryRun {
				return errors.New("--format goes with --dry-run")
			}
			if opts.dryRun && opts.purge {
				return errors.New("--purge does not go with --dry-run: nothing is pushed")
			}
			return nil
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the list digest")
	flags.BoolVarP(&opts.purge, "purge", "p", false, "Remove the draft after a successful push")
	flags.StringVar(&opts.spec, "spec", "", "Create and push the list a manifest-tool YAML spec file describes")
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Print what would be written, and write nothing")
	flags.StringVar(&opts.format, "format", "", `Format the --dry-run plan: "table" (default) or "json"`)
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runPush(ctx context.Context, dockerCLI command.Cli, opts pushOptions) error {
	name, err := listName(opts.list)
	if err != nil {
		return err
	}
	store := draftStore()
	draft, err := store.Get(name)
	if errors.Is(err, manifestlist.ErrNotFound) {
		return fmt.Errorf("push %s: no such draft; create it with docker mlist create", name)
	} else if err != nil {
		return err
	}
	raw, mediaType, err := draft.Build()
	if err != nil {
		return fmt.Errorf("push %s: %w", name, err)
	}
	warnContradictions(dockerCLI.Err(), name, draft.Entries)
	target, err := registry.ParseReference(name)
	if err != nil {
		return err
	}
	var log io.Writer = dockerCLI.Err()
	if opts.quiet {
		log = io.Discard
	}
	sess := newSession(dockerCLI, opts.registry)
	if opts.dryRun {
		return dryRunPush(ctx, dockerCLI, sess, target, draft.Entries, raw, mediaType, nil, opts.format)
	}
	d, err := pushList(ctx, sess, target, draft.Entries, raw, mediaType, log)
	if err != nil {
		return fmt.Errorf("push %s: %w", name, err)
	}
	fmt.Fprintln(dockerCLI.Out(), d)
	if opts.purge {
		// An edit made while the list was pushed is not thrown away.
		if err := store.RemoveUnchanged(draft); err != nil {
			return fmt.Errorf("push %s: pushed as %s, but the draft was not removed: %w", name, d, err)
		}
	}
	return nil
}

// pushList writes a list to target after making every entry present in the
// target repository (mounted within a registry, copied across registries);
// it returns the list digest.
func pushList(ctx context.Context, sess *registry.Session, target registry.Reference, entries []manifestlist.Entry, raw []byte, mediaType string, log io.Writer) (string, error) {
	sess.Want(target.Host, target.Repository, "pull", "push")
	var foreign []manifestlist.Entry
	for _, e := range entries {
		src, err := registry.ParseReference(e.Source)
		if err != nil {
			return "", fmt.Errorf("entry %s: %w", e.Descriptor.Digest, err)
		}
		if src.Name() != target.Name() {
			sess.Want(src.Host, src.Repository, "pull")
			foreign = append(foreign, e)
		}
	}
	c, err := sess.Client(ctx, target.Host)
	if err != nil {
		return "", err
	}
	dst := copy.Endpoint{Client: c, Repository: target.Repository}
	if len(foreign) > 1 {
		// A repository without tags cannot hold what is pushed into it
		// under a tag: one probe saves a manifest HEAD per entry.
		dst.New = c.RepositoryIsNew(ctx, target.Repository)
	}
	var stats copy.Stats
	transfer := func(ctx context.Context, e manifestlist.Entry) error {
		src, _ := registry.ParseReference(e.Source)
		sc, err := sess.Client(ctx, src.Host)
		if err != nil {
			return err
		}
		return copy.Transfer(ctx, copy.Endpoint{Client: sc, Repository: src.Repository}, dst,
			copy.Manifest{Digest: e.Descriptor.Digest, MediaType: e.Descriptor.MediaType, Raw: e.Raw}, &stats)
	}
	// A registry that refuses Docker media types refuses the first Docker
	// manifest: that one goes alone, before the others upload anything.
	if i := slices.IndexFunc(foreign, func(e manifestlist.Entry) bool {
		return strings.HasPrefix(e.Descriptor.MediaType, "application/vnd.docker.")
	}); i >= 0 && len(foreign) > 1 {
		if err := transfer(ctx, foreign[i]); err != nil {
			return "", err
		}
		foreign = slices.Delete(slices.Clone(foreign), i, i+1)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copy.SmallJobs)
	for _, e := range foreign {
		g.Go(func() error { return transfer(gctx, e) })
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	if len(foreign) > 0 {
		fmt.Fprintf(log, "%d manifests made present in %s (%d already there; %d blobs mounted, %d copied)\n",
			stats.Manifests, target.Name(), stats.Present, stats.Mounted, stats.Uploaded)
	}
	d, err := c.PutManifest(ctx, target.Repository, target.Ref(), raw, mediaType)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(log, "Pushed %s\n", target)
	return d.String(), nil
}

// runPushSpec builds the list a spec file describes, in memory, and pushes
// it with its extra tags.
func runPushSpec(ctx context.Context, dockerCLI command.Cli, opts pushOptions) error {
	b, err := readSpec(opts.spec)
	if err != nil {
		return fmt.Errorf("push --spec: %w", err)
	}
	spec, err := manifestlist.ParseSpec(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("push --spec %s: %w", opts.spec, err)
	}
	name, err := listName(spec.Image)
	if err != nil {
		return fmt.Errorf("push --spec %s: %w", opts.spec, err)
	}
	target, _ := registry.ParseReference(name)
	extra := make([]string, 0, len(spec.Tags))
	for _, t := range spec.Tags {
		r, err := registry.ParseReference(target.Name() + ":" + t)
		if err != nil || r.Tag != t {
			return fmt.Errorf("push --spec %s: invalid tag %q", opts.spec, t)
		}
		extra = append(extra, t)
	}
	refs := make([]registry.Reference, 0, len(spec.Manifests))
	for _, m := range spec.Manifests {
		r, err := registry.ParseReference(m.Image)
		if err != nil {
			return fmt.Errorf("push --spec %s: %w", opts.spec, err)
		}
		refs = append(refs, r)
	}
	sess := newSession(dockerCLI, opts.registry)
	for _, r := range refs {
		sess.Want(r.Host, r.Repository, "pull")
	}
	sources, err := fetchAll(ctx, sess, refs)
	if err != nil {
		return fmt.Errorf("push --spec %s: %w", opts.spec, err)
	}
	draft := &manifestlist.Draft{Name: name, MediaType: spec.MediaType, Annotations: spec.Annotations}
	for i, src := range sources {
		if src.single == nil {
			return fmt.Errorf("push --spec %s: %s is a list; manifests[].image names single-platform images", opts.spec, refs[i])
		}
		e := src.entries[0]
		if p := spec.Manifests[i].Platform; p != nil {
			e.Descriptor.Platform = p
		}
		e.Descriptor.Annotations = spec.Manifests[i].Annotations
		draft.Add(e)
	}
	raw, mediaType, err := draft.Build()
	if err != nil {
		return fmt.Errorf("push --spec %s: %w", opts.spec, err)
	}
	warnContradictions(dockerCLI.Err(), name, draft.Entries)
	if opts.dryRun {
		return dryRunPush(ctx, dockerCLI, sess, target, draft.Entries, raw, mediaType, extra, opts.format)
	}
	var log io.Writer = dockerCLI.Err()
	if opts.quiet {
		log = io.Discard
	}
	d, err := pushList(ctx, sess, target, draft.Entries, raw, mediaType, log)
	if err != nil {
		return fmt.Errorf("push %s: %w", name, err)
	}
	c, err := sess.Client(ctx, target.Host)
	if err != nil {
		return err
	}
	for _, t := range extra {
		if _, err := c.PutManifest(ctx, target.Repository, t, raw, mediaType); err != nil {
			return fmt.Errorf("push %s: list pushed as %s, but tag %s failed: %w", name, d, t, err)
		}
		fmt.Fprintf(log, "Tagged %s:%s\n", target.Name(), t)
	}
	fmt.Fprintln(dockerCLI.Out(), d)
	return nil
}

// maxSpecSize bounds a spec file; real ones are a few kilobytes.
const maxSpecSize = 1 << 20

// readSpec reads a spec file whole, refusing one over maxSpecSize rather
// than reading a truncated part of it.
func readSpec(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSpecSize {
		return nil, fmt.Errorf("%s is over %d MiB; a spec is a short YAML file", path, maxSpecSize>>20)
	}
	return b, nil
}

// pushPlan is what push --dry-run prints: every write push would make.
type pushPlan struct {
	Target    string        `json:"target"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// TagHolds is set when the target tag already points at this digest.
	TagHolds bool       `json:"tagHolds"`
	Steps    []pushStep `json:"steps"`
	// Requests and Bytes estimate the whole push: requests at most, bytes
	// uploaded at most (blobs the destination already has are not sent).
	Requests int   `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// pushStep is one entry's transfer, or the put of the list or of a tag.
type pushStep struct {
	// Action: "in place" (the entry lives in the target repository),
	// "present" (already there), "mount" (blobs mounted within the
	// registry), "copy" (blobs streamed from another registry), "put" (the
	// list, by tag) or "tag" (an extra tag).
	Action   string        `json:"action"`
	Platform string        `json:"platform,omitempty"`
	Digest   digest.Digest `json:"digest"`
	From     string        `json:"from,omitempty"`
	To       string        `json:"to"`
	Blobs    int           `json:"blobs,omitempty"`
	Requests int           `json:"requests"`
	Bytes    int64         `json:"bytes"`
}

// planPush finds out, with reads only (a HEAD per entry from another
// repository, and one for the tag), what pushList would write.
func planPush(ctx context.Context, sess *registry.Session, target registry.Reference, entries []manifestlist.Entry, raw []byte, mediaType string, tags []string) (*pushPlan, error) {
	sess.Want(target.Host, target.Repository, "pull")
	for _, e := range entries {
		if src, err := registry.ParseReference(e.Source); err == nil && src.Name() != target.Name() {
			sess.Want(src.Host, src.Repository, "pull")
		}
	}
	c, err := sess.Client(ctx, target.Host)
	if err != nil {
		return nil, err
	}
	plan := &pushPlan{Target: target.String(), Digest: digest.FromBytes(raw), MediaType: mediaType}
	steps := make([]pushStep, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copy.DefaultJobs)
	for i, e := range entries {
		g.Go(func() error { return planStep(gctx, c, target, e, &steps[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if desc, err := c.HeadManifest(ctx, target.Repository, target.Tag); err == nil {
		plan.TagHolds = desc.Digest == plan.Digest
	} else if !errors.Is(err, registry.ErrNotFound) {
		return nil, err
	}
	steps = append(steps, pushStep{Action: "put", Digest: plan.Digest, To: target.String(), Requests: 1, Bytes: int64(len(raw))})
	for _, t := range tags {
		steps = append(steps, pushStep{Action: "tag", Digest: plan.Digest, To: target.Name() + ":" + t, Requests: 1, Bytes: int64(len(raw))})
	}
	foreign := 0
	for _, s := range steps {
		plan.Requests += s.Requests
		plan.Bytes += s.Bytes
		if s.Action == "present" || s.Action == "mount" || s.Action == "copy" {
			foreign++
		}
	}
	if foreign > 1 {
		plan.Requests++ // pushList's probe of the target repository
	}
	plan.Steps = steps
	return plan, nil
}

func dryRunPush(ctx context.Context, dockerCLI command.Cli, sess *registry.Session, target registry.Reference, entries []manifestlist.Entry, raw []byte, mediaType string, tags []string, format string) error {
	switch format {
	case "", "table", "json":
	default:
		return fmt.Errorf("invalid --format %q: accepted: table, json", format)
	}
	plan, err := planPush(ctx, sess, target, entries, raw, mediaType, tags)
	if err != nil {
		return fmt.Errorf("push --dry-run %s: %w", target, err)
	}
	if format == "" {
		format = "table"
	}
	return writeFormatted(dockerCLI.Out(), format, plan, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "Push %s (dry run: nothing written)\n", termText(plan.Target))
		fmt.Fprintln(w, "ACTION\tPLATFORM\tDIGEST\tFROM\tTO\tREQUESTS\tBYTES")
		for _, s := range plan.Steps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Action, orDash(termText(s.Platform)), termText(s.Digest.String()),
				orDash(termText(s.From)), termText(s.To), s.Requests, s.Bytes)
		}
		if plan.TagHolds {
			fmt.Fprintf(w, "%s already holds %s\n", termText(plan.Target), plan.Digest)
		}
		fmt.Fprintf(w, "Total: at most %d requests, %d bytes uploaded; list %s (%s)\n", plan.Requests, plan.Bytes, plan.Digest, termText(plan.MediaType))
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// planStep finds out, with at most one HEAD, what pushing entry e to target
// takes.
func planStep(ctx context.Context, c *registry.Client, target registry.Reference, e manifestlist.Entry, step *pushStep) error {
	src, err := registry.ParseReference(e.Source)
	if err != nil {
		return fmt.Errorf("entry %s: %w", e.Descriptor.Digest, err)
	}
	st := pushStep{Digest: e.Descriptor.Digest, From: src.Name(), To: target.Name(), Platform: manifestlist.FormatPlatform(e.Descriptor.Platform)}
	if manifestlist.IsAttestation(e.Descriptor) {
		st.Platform = "attestation"
	}
	if src.Name() == target.Name() {
		st.Action = "in place"
		*step = st
		return nil
	}
	st.Requests = 1 // the HEAD push makes too
	if _, err := c.HeadManifest(ctx, target.Repository, e.Descriptor.Digest.String()); err == nil {
		st.Action = "present"
		*step = st
		return nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	var blobs []registry.Descriptor
	if p, err := copy.Parse(e.Raw, e.Descriptor.MediaType); err == nil && p.Kind == copy.KindImage {
		blobs = p.Blobs
	}
	st.Blobs = len(blobs)
	if src.Host == target.Host {
		st.Action = "mount"
		st.Requests += len(blobs) + 1 // a mount per blob, the manifest put
	} else {
		st.Action = "copy"
		for _, b := range blobs {
			st.Bytes += b.Size
		}
		// Per blob: a HEAD, the source GET, the upload POST and PUT.
		st.Requests += 4*len(blobs) + 1
		st.Bytes += int64(len(e.Raw))
	}
	*step = st
	return nil
}
