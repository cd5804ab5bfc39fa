package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	ref      string
	deep     bool
	format   string
	registry registryFlags
}

func newVerifyCommand(dockerCLI command.Cli) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [OPTIONS] REF",
		Short: "Check a draft or a list for problems",
		Long: `Check a local draft (when one has that name) or a list in a registry
(docker://REF always means the registry), and print every problem, one per line:

  - an entry whose platform disagrees with its image config (os, architecture,
    os.version, and variant where the config has one);
  - two images with the same platform;
  - an entry, image config or (with --deep) layer missing from the list's
    repository (for a draft: from the repository of the entry's source, where
    push reads it);
  - an attestation describing an image the list does not hold;
  - a manifest whose digest or size does not match its descriptor.

Exit status: 0 when there is no problem, 1 when there are, 2 on error.`,
		Example: `  docker mlist verify registry.example.com/app:1.0
  docker mlist verify --deep --format json registry.example.com/app:1.0`,
		Args:                  statusArgs(cli.ExactArgs(1)),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = args[0]
			return runVerify(cmd.Context(), dockerCLI, opts)
		},
	}
	cmd.SetFlagErrorFunc(statusFlagError)
	flags := cmd.Flags()
	flags.BoolVar(&opts.deep, "deep", false, "Also check that every layer is in the repository (a HEAD request each)")
	addFormatFlag(flags, &opts.format, "table", "output", "table prints one line per problem, json and templates the whole report")
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runVerify(ctx context.Context, dockerCLI command.Cli, opts verifyOptions) error {
	r, err := verify(ctx, dockerCLI, opts)
	if err != nil {
		return withStatus(err)
	}
	if opts.format == "table" {
		for _, p := range r.Problems {
			fmt.Fprintln(dockerCLI.Out(), termText(p.Message))
		}
	} else if err := writeFormatted(dockerCLI.Out(), opts.format, r, nil); err != nil {
		return withStatus(err)
	}
	if !r.OK() {
		return cli.StatusError{StatusCode: exitDiffer, Status: termText(fmt.Sprintf("verify %s: %s", r.Reference, plural(len(r.Problems), "problem")))}
	}
	if opts.format == "table" {
		fmt.Fprintf(dockerCLI.Err(), "%s: %d entries, no problem found\n", termText(r.Reference), r.Entries)
	}
	return nil
}

func verify(ctx context.Context, dockerCLI command.Cli, opts verifyOptions) (*copy.Report, error) {
	s, explicit := strings.CutPrefix(opts.ref, "docker://")
	ref, err := registry.ParseReference(s)
	if err != nil {
		return nil, err
	}
	sess := newSession(dockerCLI, opts.registry)
	vopts := copy.VerifyOptions{Deep: opts.deep}
	if !explicit && ref.Digest == "" {
		draft, err := draftStore().Get(ref.String())
		switch {
		case err == nil:
			return verifyDraft(ctx, sess, draft, vopts)
		case !errors.Is(err, manifestlist.ErrNotFound):
			return nil, err
		}
	}
	sess.Want(ref.Host, ref.Repository, "pull")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	r, err := copy.Verify(ctx, copy.Endpoint{Client: c, Repository: ref.Repository}, ref.Ref(), vopts)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", ref, err)
	}
	return r, nil
}

func verifyDraft(ctx context.Context, sess *registry.Session, d *manifestlist.Draft, opts copy.VerifyOptions) (*copy.Report, error) {
	for _, e := range d.Entries {
		if src, err := registry.ParseReference(e.Source); err == nil {
			sess.Want(src.Host, src.Repository, "pull")
		}
	}
	r, err := copy.VerifyDraft(ctx, d, func(source string) (copy.Endpoint, error) {
		src, err := registry.ParseReference(source)
		if err != nil {
			return copy.Endpoint{}, err
		}
		c, err := sess.Client(ctx, src.Host)
		return copy.Endpoint{Client: c, Repository: src.Repository}, err
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", d.Name, err)
	}
	return r, nil
}
