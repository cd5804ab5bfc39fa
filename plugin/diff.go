package plugin

import (
	"context"
	"errors"
	"fmt"
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

// Exit statuses of diff and verify, as diff(1) has them.
const (
	exitDiffer = 1
	exitError  = 2
)

type diffOptions struct {
	a, b     string
	format   string
	registry registryFlags
}

// diffSide is one of the two lists compared.
type diffSide struct {
	Name string `json:"name"`
	// Kind is "draft" or "registry".
	Kind   string        `json:"kind"`
	Digest digest.Digest `json:"digest,omitempty"`
	// Exists is false for a registry tag that holds nothing yet.
	Exists bool `json:"exists"`
	list   *manifestlist.List
}

// diffResult is what diff prints.
type diffResult struct {
	Old   diffSide `json:"old"`
	New   diffSide `json:"new"`
	Equal bool     `json:"equal"`
	manifestlist.Diff
}

func newDiffCommand(dockerCLI command.Cli) *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff [OPTIONS] A [B]",
		Short: "Show how two lists differ",
		Long: `Show how list B differs from list A: per platform added, removed, changed
(old → new digest) or same, then the list type, the index annotations and the
order of the entries.

A and B are each a local draft when one has that name, otherwise a registry
reference; docker://REF always means the registry. With one argument, A is a
draft and the diff goes from what its tag holds in the registry now to the
draft: what pushing it would change.

Exit status: 0 when the lists are equal, 1 when they differ, 2 on error.`,
		Example: `  docker mlist diff registry.example.com/app:1.0
  docker mlist diff registry.example.com/app:1.0 registry.example.com/app:1.1
  docker mlist diff --format json docker://registry.example.com/app:1.0 registry.example.com/app:1.0`,
		Args:                  statusArgs(cli.RequiresRangeArgs(1, 2)),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.a = args[0]
			if len(args) == 2 {
				opts.b = args[1]
			}
			return runDiff(cmd.Context(), dockerCLI, opts)
		},
	}
	cmd.SetFlagErrorFunc(statusFlagError)
	flags := cmd.Flags()
	addFormatFlag(flags, &opts.format, "table", "output", "")
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

// statusArgs makes an argument error exit with status 2, as every other
// error of diff and verify does: 1 means "differ" or "problems found".
func statusArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return cli.StatusError{StatusCode: exitError, Status: err.Error()}
		}
		return nil
	}
}

func statusFlagError(cmd *cobra.Command, err error) error {
	err, own := suggestFlagError(cmd, err)
	if own {
		return cli.StatusError{StatusCode: exitError, Status: err.Error()}
	}
	return cli.StatusError{StatusCode: exitError, Status: fmt.Sprintf("%s\nSee 'docker mlist %s --help'.", err, cmd.Name())}
}

// withStatus gives an error exit status 2; the plugin framework prints a
// StatusError's own text, so it is made terminal-safe here.
func withStatus(err error) error {
	if err == nil {
		return nil
	}
	var se cli.StatusError
	if errors.As(err, &se) {
		return err
	}
	return cli.StatusError{StatusCode: exitError, Cause: terminalSafe(err)}
}

func runDiff(ctx context.Context, dockerCLI command.Cli, opts diffOptions) error {
	res, err := diffLists(ctx, dockerCLI, opts)
	if err != nil {
		return withStatus(err)
	}
	if err := printDiff(dockerCLI, opts.format, res); err != nil {
		return withStatus(err)
	}
	if !res.Equal {
		return cli.StatusError{StatusCode: exitDiffer, Status: termText(fmt.Sprintf("%s %s and %s %s differ", res.Old.Kind, res.Old.Name, res.New.Kind, res.New.Name))}
	}
	return nil
}

func diffLists(ctx context.Context, dockerCLI command.Cli, opts diffOptions) (*diffResult, error) {
	sess := newSession(dockerCLI, opts.registry)
	var oldSide, newSide *diffSide
	var err error
	if opts.b == "" {
		ref, err := registry.ParseReference(opts.a)
		if err != nil {
			return nil, err
		}
		draft, err := draftStore().Get(ref.String())
		if errors.Is(err, manifestlist.ErrNotFound) || ref.Digest != "" {
			return nil, fmt.Errorf("diff %s: no such draft; with one argument, diff compares a draft with its registry tag", opts.a)
		} else if err != nil {
			return nil, err
		}
		if newSide, err = draftSide(draft); err != nil {
			return nil, err
		}
		if oldSide, err = registrySide(ctx, sess, ref, true); err != nil {
			return nil, err
		}
	} else {
		if oldSide, err = loadSide(ctx, sess, opts.a); err != nil {
			return nil, err
		}
		if newSide, err = loadSide(ctx, sess, opts.b); err != nil {
			return nil, err
		}
	}
	d := manifestlist.Compare(oldSide.list, newSide.list)
	return &diffResult{Old: *oldSide, New: *newSide, Diff: d, Equal: d.Equal() && oldSide.Exists == newSide.Exists}, nil
}

// loadSide reads a draft when one has that name, otherwise the registry.
func loadSide(ctx context.Context, sess *registry.Session, arg string) (*diffSide, error) {
	s, explicit := strings.CutPrefix(arg, "docker://")
	ref, err := registry.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if !explicit && ref.Digest == "" {
		draft, err := draftStore().Get(ref.String())
		switch {
		case err == nil:
			return draftSide(draft)
		case !errors.Is(err, manifestlist.ErrNotFound):
			return nil, err
		}
	}
	return registrySide(ctx, sess, ref, false)
}

func draftSide(d *manifestlist.Draft) (*diffSide, error) {
	l, err := d.List()
	if err != nil {
		return nil, err
	}
	side := &diffSide{Name: d.Name, Kind: "draft", Exists: true, list: l}
	if raw, _, err := d.Build(); err == nil {
		side.Digest = digest.FromBytes(raw)
	}
	return side, nil
}

// registrySide reads ref; with missingOK a tag that holds nothing is an
// empty side (a draft not pushed yet adds everything).
func registrySide(ctx context.Context, sess *registry.Session, ref registry.Reference, missingOK bool) (*diffSide, error) {
	sess.Want(ref.Host, ref.Repository, "pull")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	r, err := copy.ReadList(ctx, c, ref)
	if missingOK && errors.Is(err, registry.ErrNotFound) {
		return &diffSide{Name: ref.String(), Kind: "registry"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return &diffSide{Name: ref.String(), Kind: "registry", Digest: r.Digest, Exists: true, list: r.List}, nil
}

func printDiff(dockerCLI command.Cli, format string, res *diffResult) error {
	if res.Platforms == nil {
		res.Platforms = []manifestlist.PlatformDiff{}
	}
	return writeFormatted(dockerCLI.Out(), format, res, func(w *tabwriter.Writer) {
		side := func(s diffSide) string {
			if !s.Exists {
				return fmt.Sprintf("%s %s (does not exist)", s.Kind, termText(s.Name))
			}
			return fmt.Sprintf("%s %s (%s)", s.Kind, termText(s.Name), termText(s.Digest.String()))
		}
		fmt.Fprintf(w, "--- %s\n+++ %s\n", side(res.Old), side(res.New))
		fmt.Fprintln(w, "PLATFORM\tCHANGE\tDIGEST")
		for _, p := range res.Platforms {
			var d string
			switch p.Action {
			case manifestlist.DiffAdded:
				d = p.New.String()
			case manifestlist.DiffRemoved, manifestlist.DiffSame:
				d = p.Old.String()
			default:
				d = p.Old.String() + " → " + p.New.String()
				if p.Old == p.New {
					d = p.Old.String()
				}
				if len(p.Details) > 0 {
					d += " (" + strings.Join(p.Details, "; ") + ")"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", termText(p.Platform), p.Action, termText(d))
		}
		if res.OldMediaType != "" {
			fmt.Fprintf(w, "list type: %s → %s\n", termText(res.OldMediaType), termText(res.NewMediaType))
		}
		for _, a := range res.Annotations {
			fmt.Fprintf(w, "annotation %s\n", termText(a.String()))
		}
		for _, o := range res.Other {
			fmt.Fprintln(w, termText(o))
		}
		if res.Reordered {
			fmt.Fprintln(w, "entry order differs")
		}
	})
}
