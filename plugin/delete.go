package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type deleteOptions struct {
	ref      string
	force    bool
	quiet    bool
	registry registryFlags
}

func newDeleteCommand(dockerCLI command.Cli) *cobra.Command {
	var opts deleteOptions
	cmd := &cobra.Command{
		Use:   "delete [OPTIONS] REF",
		Short: "Delete a manifest or list from a registry",
		Long: `Delete a manifest or list from a registry, by digest. For a tag, the digest
it points to is deleted (every tag pointing at it goes too), after
confirmation on a terminal; scripts pass --force.`,
		Example:               "  docker mlist delete registry.example.com/app@sha256:4f...\n  docker mlist delete --force registry.example.com/app:old",
		Args:                  cli.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = args[0]
			return runDelete(cmd.Context(), dockerCLI, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.force, "force", "f", false, "Delete what a tag points to without asking")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the deleted digest")
	cmd.Flags().BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runDelete(ctx context.Context, dockerCLI command.Cli, opts deleteOptions) error {
	ref, err := registryArg("delete REF", opts.ref)
	if err != nil {
		return err
	}
	sess := newSession(dockerCLI, opts.registry)
	sess.Want(ref.Host, ref.Repository, "pull", "delete")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return err
	}
	d := ref.Digest
	if d == "" {
		desc, err := c.HeadManifest(ctx, ref.Repository, ref.Tag)
		if err != nil {
			return deleteError(ref, err)
		}
		d = desc.Digest
		if !opts.force {
			if !dockerCLI.In().IsTerminal() {
				return fmt.Errorf("delete %s: a tag deletes %s and every tag pointing at it; confirm with --force", ref, d)
			}
			fmt.Fprintf(dockerCLI.Err(), "Delete %s (%s) and every tag pointing at it? [y/N] ", ref, d)
			answer, _ := bufio.NewReader(dockerCLI.In()).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return errors.New("delete cancelled")
			}
		}
	}
	if err := c.DeleteManifest(ctx, ref.Repository, d); err != nil {
		if errors.Is(err, registry.ErrUnsupported) {
			return fmt.Errorf("delete %s: registry %s does not allow deletes", ref, ref.Host)
		}
		return deleteError(ref.WithDigest(d), err)
	}
	if !opts.quiet {
		fmt.Fprintf(dockerCLI.Err(), "Deleted %s\n", ref.WithDigest(d))
	}
	fmt.Fprintln(dockerCLI.Out(), d)
	return nil
}

// deleteError puts the command's name before err, and the reference only
// when err does not already begin with it: a registry error names the
// manifest it is about.
func deleteError(ref registry.Reference, err error) error {
	var re *registry.Error
	if errors.As(err, &re) && strings.HasPrefix(err.Error(), ref.String()+":") {
		return fmt.Errorf("delete %w", err)
	}
	return fmt.Errorf("delete %s: %w", ref, err)
}
