package plugin

import (
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type dropOptions struct {
	list    string
	entries []string
}

func newDropCommand(dockerCLI command.Cli) *cobra.Command {
	var opts dropOptions
	cmd := &cobra.Command{
		Use:   "drop LIST ENTRY [ENTRY...]",
		Short: "Remove entries from a draft",
		Long: `Remove entries from a local draft, with the attestations of each image removed.

ENTRY is the entry's platform (linux/arm/v7, windows/amd64:10.0.17763; its
os.features need not be named), its digest, or a unique prefix of at least
12 hex digits with or without sha256:, or its source reference. Every ENTRY
must name an entry, or nothing is removed. Dropping every image is an error:
remove the draft with docker mlist rm instead.`,
		Example: `  docker mlist create --from registry.example.com/app:1.0
  docker mlist drop registry.example.com/app:1.0 linux/s390x linux/ppc64le
  docker mlist push registry.example.com/app:1.0`,
		Args:                  cli.RequiresMinArgs(2),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDraftEntries,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.list, opts.entries = args[0], args[1:]
			return runDrop(dockerCLI, opts)
		},
	}
	return cmd
}

func runDrop(dockerCLI command.Cli, opts dropOptions) error {
	name, err := listName(opts.list)
	if err != nil {
		return err
	}
	var dropped []manifestlist.Entry
	err = draftStore().Update(name, func(d *manifestlist.Draft) error {
		dropped, err = d.Drop(opts.entries...)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	labels := make([]string, len(dropped))
	for i, e := range dropped {
		labels[i] = termText(e.Label())
	}
	fmt.Fprintf(dockerCLI.Out(), "Dropped from %s: %s\n", name, strings.Join(labels, ", "))
	return nil
}
