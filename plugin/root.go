// Package plugin wires docker-mlist into the Docker CLI: the cobra commands,
// and the credentials, certificates and insecure-registry decisions the
// invoking docker CLI knows about.
package plugin

import (
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli-plugins/metadata"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/spf13/cobra"
)

// Version is the plugin's version, set by main from the build.
var Version = "0.0.0-dev"

// Metadata is what `docker` reads from `docker-mlist docker-cli-plugin-metadata`.
func Metadata() metadata.Metadata {
	return metadata.Metadata{
		SchemaVersion:    "0.1.0", // CLIs before 28.4.1 accept only this value
		Vendor:           "docker-mlist",
		Version:          Version,
		ShortDescription: "Manage multi-arch manifest lists and OCI image indexes",
		URL:              "https://github.com/docker-mlist/docker-mlist",
	}
}

// NewRootCommand returns the `docker mlist` command tree.
func NewRootCommand(dockerCLI command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mlist",
		Short: "Manage multi-arch manifest lists and OCI image indexes",
		Long: `Build, edit, merge, copy and push multi-platform manifest lists
(Docker manifest list v2 and OCI image index), with the credentials,
certificates and contexts of the Docker CLI that runs it.`,
		SilenceUsage:  true,
		SilenceErrors: false,
		// The plugin framework's initialisation (config dir, context,
		// cancellation) lives in this hook; a command that sets its own must
		// chain to it. A closure, because the framework assigns the hook only
		// after this command is built.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return cliplugin.PersistentPreRunE(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newCreateCommand(dockerCLI),
		newAnnotateCommand(dockerCLI),
		newInspectCommand(dockerCLI),
		newPushCommand(dockerCLI),
		newRmCommand(dockerCLI),
		newLsCommand(dockerCLI),
		newMergeCommand(dockerCLI),
		newCopyCommand(dockerCLI),
		newTagsCommand(dockerCLI),
		newDeleteCommand(dockerCLI),
	)
	escapeErrors(cmd)
	return cmd
}

// escapeErrors makes the error line of every command safe for a terminal:
// the plugin framework prints a command's error as it is, and errors quote
// registries' messages.
func escapeErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error { return terminalSafe(run(cmd, args)) }
	}
	for _, c := range cmd.Commands() {
		escapeErrors(c)
	}
}

// draftStore is the local draft store of the Docker config directory in use
// (after --config has been applied), shared with `docker manifest`.
func draftStore() *manifestlist.Store {
	return manifestlist.NewStore(config.Dir())
}
