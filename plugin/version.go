package plugin

import (
	"fmt"
	"runtime"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

func newVersionCommand(dockerCLI command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:                   "version",
		Short:                 "Show the version of docker-mlist",
		Example:               "  docker mlist version",
		Args:                  cli.NoArgs,
		DisableFlagsInUseLine: true,
		// Nothing here needs the Docker config, the context or an engine.
		PersistentPreRun: func(*cobra.Command, []string) {},
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(dockerCLI.Out(), versionLine())
			return err
		},
	}
}

// versionLine is what `docker mlist version` prints: the version the build
// was stamped with, its commit, and the Go toolchain and platform.
func versionLine() string {
	commit := Commit
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("docker-mlist %s (commit %s, %s, %s/%s)", Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
