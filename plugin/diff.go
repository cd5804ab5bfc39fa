package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
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
	// Kind is where it was read: "draft", "registry", "oci", "oci-archive"
	// or "docker-archive".
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

A and B are each a local draft when one has that name (with a note on
stderr), otherwise a registry reference; docker://REF always means the
registry, oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker-archive:FILE[:REF]
a local layout. With one argument, A is a draft and the diff goes from what
its tag holds in the registry now to the draft: what pushing it would change.

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
	r := readers(dockerCLI, opts.registry)
	store := draftStore()
	var oldSide, newSide *diffSide
	if opts.b == "" {
		in, err := copy.Resolve(opts.a, store)
		if err != nil {
			return nil, err
		}
		if in.Draft == nil {
			return nil, fmt.Errorf("diff %s: no such draft; with one argument, diff compares a draft with its registry tag", opts.a)
		}
		if newSide, err = readSide(ctx, r, in, false); err != nil {
			return nil, err
		}
		tag, err := copy.Resolve("docker://"+in.Draft.Name, nil)
		if err != nil {
			return nil, err
		}
		if oldSide, err = readSide(ctx, r, tag, true); err != nil {
			return nil, err
		}
	} else {
		var ins [2]copy.Input
		for i, arg := range []string{opts.a, opts.b} {
			var err error
			if ins[i], err = copy.Resolve(arg, store); err != nil {
				return nil, err
			}
			if note := ins[i].ShadowNote(); note != "" {
				fmt.Fprintln(dockerCLI.Err(), termText(note))
			}
		}
		var err error
		if oldSide, err = readSide(ctx, r, ins[0], false); err != nil {
			return nil, err
		}
		if newSide, err = readSide(ctx, r, ins[1], false); err != nil {
			return nil, err
		}
	}
	d := manifestlist.Compare(oldSide.list, newSide.list)
	return &diffResult{Old: *oldSide, New: *newSide, Diff: d, Equal: d.Equal() && oldSide.Exists == newSide.Exists}, nil
}

// readSide reads one side as a list; with missingOK a registry tag that
// holds nothing is an empty side (a draft not pushed yet adds everything).
func readSide(ctx context.Context, r copy.Readers, in copy.Input, missingOK bool) (*diffSide, error) {
	o, err := copy.Open(ctx, in, r, missingOK)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	defer o.Close()
	side := &diffSide{Name: in.String(), Kind: in.Source()}
	if o.Missing {
		return side, nil
	}
	if side.list, err = o.AsList(ctx); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	side.Digest, side.Exists = o.Digest, true
	return side, nil
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
