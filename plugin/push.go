package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type pushOptions struct {
	list     string
	spec     string
	quiet    bool
	purge    bool
	dryRun   bool
	format   string
	tags     []string
	registry registryFlags
}

func newPushCommand(dockerCLI command.Cli) *cobra.Command {
	var opts pushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] LIST | --spec FILE",
		Short: "Push a draft to its registry",
		Long: `Push a local draft to the registry and repository its name says.

Entries whose manifests live in another repository of the same registry are
written to the target repository first (blobs mounted, manifests written by
digest with their original bytes). The list is written last, so the tag never
points at a list with a missing entry. The list digest is printed on stdout.
A draft docker manifest create made is written as docker manifest push
writes it, so both give one digest. An entry whose platform contradicts the
image config create read gets a WARNING line on stderr.

--spec creates and pushes in one step from a manifest-tool YAML spec (image,
tags, manifests[].image, manifests[].platform, annotations); its sources may
live in any registry.

-t TAG (repeatable) writes the list under more tags, after its own, in the
same plan: a bare TAG is a tag of the list's repository, a full
REGISTRY/REPOSITORY:TAG may name another repository of the same registry,
which gets the list and its entries by mounts. A tag that holds the list
already is left alone. push --spec's tags: are written the same way.

The push reads its tag first: when the tag already holds the list nothing is
written, and otherwise the summary names the digest the tag moves from. On a
terminal it shows the same progress as copy.

--dry-run prints the plan (every manifest and blob with what the push does
with it, every tag with the digest it holds and the one it gets, the exact
number of registry requests the push makes and the bytes it sends) and
writes nothing (it only reads).`,
		Example: `  docker mlist push --dry-run registry.example.com/app:1.0
  docker mlist push -t latest -t registry.example.com/release:1.0 registry.example.com/app:1.0
  digest=$(docker mlist push --purge registry.example.com/app:1.0)
  docker mlist push --spec release.yaml`,
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
			if err := formatWithDryRun(cmd, opts.dryRun); err != nil {
				return err
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
	addDryRunFlag(flags, &opts.dryRun, "")
	addFormatFlag(flags, &opts.format, "table", "the --dry-run plan", "")
	addTagFlag(flags, &opts.tags)
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
	tags, err := copy.ParseTags(target, opts.tags)
	if err != nil {
		return err
	}
	sess := newSession(dockerCLI, opts.registry)
	d, err := push(ctx, dockerCLI, opts, copy.PushRequest{Session: sess, Target: target, Raw: raw, MediaType: mediaType, Entries: draft.Entries, Tags: tags})
	var re *registry.Error
	if errors.As(err, &re) && re.Code == "MANIFEST_BLOB_UNKNOWN" {
		// The list names what the repository lacks: an entry of its own
		// repository deleted since the draft was made, which verify names.
		return fmt.Errorf("%w; docker mlist verify %s names what is missing", err, name)
	}
	if err != nil || d == "" {
		return err
	}
	if opts.purge {
		// An edit made while the list was pushed is not thrown away.
		if err := store.RemoveUnchanged(draft); err != nil {
			return fmt.Errorf("push %s: pushed as %s, but the draft was not removed: %w", name, d, err)
		}
	}
	return nil
}

// push plans req and prints the plan (--dry-run, which returns ""), or
// carries it out with progress on a terminal, says what it did, and prints
// the list digest, which it returns.
func push(ctx context.Context, dockerCLI command.Cli, opts pushOptions, req copy.PushRequest) (string, error) {
	req.DryRun = opts.dryRun
	stats, stopProgress := startProgress(dockerCLI, opts.quiet || opts.dryRun, "Pushing")
	req.Stats = stats
	plan, err := copy.PlanPush(ctx, req)
	if err == nil && !opts.dryRun {
		err = copy.Execute(ctx, plan)
	}
	stopProgress()
	if err != nil {
		return "", fmt.Errorf("push %s: %w", req.Target, err)
	}
	if opts.dryRun {
		return "", writePlan(dockerCLI.Out(), opts.format, plan)
	}
	if !opts.quiet {
		w := dockerCLI.Err()
		if plan.Unchanged {
			unchangedSummary(w, req.Target.String(), plan)
		} else {
			counts, _ := stats.Snapshot()
			runSummary(w, "Pushed "+termText(req.Target.String()), plan, counts)
		}
	}
	fmt.Fprintln(dockerCLI.Out(), plan.Digest)
	return plan.Digest.String(), nil
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
	extra, err := copy.ParseTags(target, append(append([]string{}, spec.Tags...), opts.tags...))
	if err != nil {
		return fmt.Errorf("push --spec %s: %w", opts.spec, err)
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
	_, err = push(ctx, dockerCLI, opts, copy.PushRequest{Session: sess, Target: target, Raw: raw, MediaType: mediaType, Entries: draft.Entries, Tags: extra})
	return err
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
