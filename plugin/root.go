// Package plugin wires docker-mlist into the Docker CLI: the cobra commands,
// and the credentials, certificates and insecure-registry decisions the
// invoking docker CLI knows about.
package plugin

import (
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli-plugins/metadata"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/spf13/cobra"
)

// Version is the plugin's version, set by main from the build.
var Version = "0.0.0-dev"

// Commit is the source revision the plugin was built from, set by main.
var Commit = ""

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
			if err := cliplugin.PersistentPreRunE(cmd, args); err != nil {
				return err
			}
			handleInterrupts(cmd)
			return nil
		},
		// Without Args, cobra treats `docker mlist nosuch` as the root command
		// with an argument and would print the help and exit 0, so a typo in a
		// script would pass silently.
		Args: unknownSubcommand,
		// Cobra's own default (2) applies only where cobra looks for
		// suggestions itself; unknownSubcommand asks directly.
		SuggestionsMinimumDistance: suggestionDistance,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newCreateCommand(dockerCLI),
		newAnnotateCommand(dockerCLI),
		newDropCommand(dockerCLI),
		newDiffCommand(dockerCLI),
		newVerifyCommand(dockerCLI),
		newInspectCommand(dockerCLI),
		newPushCommand(dockerCLI),
		newRmCommand(dockerCLI),
		newLsCommand(dockerCLI),
		newMergeCommand(dockerCLI),
		newCopyCommand(dockerCLI),
		newTagsCommand(dockerCLI),
		newDeleteCommand(dockerCLI),
		newVersionCommand(dockerCLI),
	)
	escapeErrors(cmd)
	cmd.SetFlagErrorFunc(flagError)
	registerCompletions(cmd)
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

// unknownSubcommand refuses any argument to the bare root command: the only
// thing that can stand there is a subcommand name, and cobra has already
// failed to find it.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("docker mlist: unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", quoteAll(s))
	}
	return fmt.Errorf("%s; run 'docker mlist --help' for the list of commands", msg)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " or ")
}

// draftStore is the local draft store of the Docker config directory in use
// (after --config has been applied), shared with `docker manifest`.
func draftStore() *manifestlist.Store {
	return manifestlist.NewStore(config.Dir())
}
