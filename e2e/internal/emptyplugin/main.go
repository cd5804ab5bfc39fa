// Command emptyplugin is a Docker CLI plugin that does nothing, built with
// the same docker/cli as docker-mlist: the baseline of the start-up
// benchmark (e2e/startup_bench_test.go).
package main

import (
	"github.com/docker/cli/cli-plugins/metadata"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

func main() {
	cliplugin.Run(func(command.Cli) *cobra.Command {
		return &cobra.Command{
			Use:   "mlistempty",
			Short: "Do nothing",
			RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		}
	}, metadata.Metadata{SchemaVersion: "0.1.0", Vendor: "docker-mlist", Version: "0.0.0", ShortDescription: "Do nothing"})
}
