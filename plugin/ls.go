package plugin

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type lsOptions struct {
	format string
	quiet  bool
}

// draftSummary is one row of `docker mlist ls`.
type draftSummary struct {
	Name      string   `json:"name"`
	Entries   int      `json:"entries"`
	Platforms []string `json:"platforms"`
}

func newLsCommand(dockerCLI command.Cli) *cobra.Command {
	var opts lsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List local drafts",
		Long: `List local drafts.

A draft that cannot be read is reported on stderr, one line each, after the
drafts that can; the exit status is then 1.`,
		Example:               "  docker mlist ls\n  docker mlist ls --format '{{.Name}} {{.Entries}}'",
		Args:                  cli.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(dockerCLI, opts)
		},
	}
	addFormatFlag(cmd.Flags(), &opts.format, "table", "output", "a template is applied to each draft")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "Only print draft names")
	return cmd
}

// runLs prints every readable draft, then fails with one line per draft it
// could not read, so scripts see the problem and still get the rest.
func runLs(dockerCLI command.Cli, opts lsOptions) error {
	drafts, unreadable, err := draftStore().List()
	if err != nil {
		return err
	}
	if err := printDrafts(dockerCLI, opts, drafts); err != nil {
		return err
	}
	errs := make([]error, 0, len(unreadable))
	for _, u := range unreadable {
		errs = append(errs, errors.New(termText(u.Error())))
	}
	return errors.Join(errs...)
}

func printDrafts(dockerCLI command.Cli, opts lsOptions, drafts []*manifestlist.Draft) error {
	rows := make([]draftSummary, 0, len(drafts))
	for _, d := range drafts {
		s := draftSummary{Name: d.Name, Entries: len(d.Entries), Platforms: []string{}}
		for _, e := range d.Entries {
			if !manifestlist.IsAttestation(e.Descriptor) {
				s.Platforms = append(s.Platforms, manifestlist.FormatPlatform(e.Descriptor.Platform))
			}
		}
		rows = append(rows, s)
	}
	if opts.quiet {
		for _, r := range rows {
			fmt.Fprintln(dockerCLI.Out(), termText(r.Name))
		}
		return nil
	}
	if opts.format != "json" && opts.format != "table" {
		for _, r := range rows {
			if err := writeFormatted(dockerCLI.Out(), opts.format, r, nil); err != nil {
				return err
			}
		}
		return nil
	}
	return writeFormatted(dockerCLI.Out(), opts.format, rows, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tENTRIES\tPLATFORMS")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%d\t%s\n", termText(r.Name), r.Entries, termText(strings.Join(r.Platforms, ",")))
		}
	})
}
