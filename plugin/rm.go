package plugin

import (
	"errors"
	"fmt"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

func newRmCommand(dockerCLI command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:                   "rm LIST [LIST...]",
		Short:                 "Remove local drafts",
		Example:               `  docker mlist rm registry.example.com/app:1.0`,
		Args:                  cli.RequiresMinArgs(1),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(dockerCLI, args)
		},
	}
}

// runRm removes every draft it can and reports each one it could not.
func runRm(dockerCLI command.Cli, lists []string) error {
	store := draftStore()
	var errs []error
	for _, l := range lists {
		name, err := listName(l)
		if err == nil {
			err = store.Remove(name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rm %s: %w", l, err))
			continue
		}
		fmt.Fprintf(dockerCLI.Err(), "Removed %s\n", name)
	}
	return errors.Join(errs...)
}
