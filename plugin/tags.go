package plugin

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type tagsOptions struct {
	repository string
	format     string
	pageSize   int
	registry   registryFlags
}

func newTagsCommand(dockerCLI command.Cli) *cobra.Command {
	var opts tagsOptions
	cmd := &cobra.Command{
		Use:                   "tags [OPTIONS] REPOSITORY",
		Short:                 "List the tags of a repository",
		Example:               "  docker mlist tags registry.example.com/app\n  docker mlist tags --format json registry.example.com/app",
		Args:                  cli.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.repository = args[0]
			return runTags(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	addFormatFlag(flags, &opts.format, "", "output", "a template is applied to each tag (e.g. '{{.}}'); default: one tag per line")
	flags.IntVar(&opts.pageSize, "page-size", 0, "Tags to ask the registry for per page (default: the registry's)")
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runTags(ctx context.Context, dockerCLI command.Cli, opts tagsOptions) error {
	ref, err := registryArg("tags REPOSITORY", opts.repository)
	if err != nil {
		return err
	}
	if opts.pageSize < 0 {
		return fmt.Errorf("invalid --page-size %d: must be 0 or more", opts.pageSize)
	}
	sess := newSession(dockerCLI, opts.registry)
	sess.Want(ref.Host, ref.Repository, "pull")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return err
	}
	tags, err := c.Tags(ctx, ref.Repository, opts.pageSize)
	if err != nil {
		// A registry error begins with the repository it is about.
		if strings.HasPrefix(err.Error(), ref.Name()+":") {
			return fmt.Errorf("tags %w", err)
		}
		return fmt.Errorf("tags %s: %w", ref.Name(), err)
	}
	if tags == nil {
		tags = []string{}
	}
	switch opts.format {
	case "":
		for _, t := range tags {
			fmt.Fprintln(dockerCLI.Out(), termText(t))
		}
		return nil
	case "json", "table":
		return writeFormatted(dockerCLI.Out(), opts.format, tags, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "TAG")
			for _, t := range tags {
				fmt.Fprintln(w, termText(t))
			}
		})
	}
	for _, t := range tags {
		if err := writeFormatted(dockerCLI.Out(), opts.format, t, nil); err != nil {
			return err
		}
	}
	return nil
}
