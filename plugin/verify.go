package plugin

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/copy"
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
		Long: `Check a local draft (when one has that name, with a note on stderr), a list
in a registry (docker://REF always means the registry) or in a local layout
(oci:DIR[:TAG], oci-archive:FILE[:TAG]), and print every problem, one per line:

  - an entry whose platform disagrees with its image config (os, architecture,
    os.version, and variant where the config has one);
  - two images with the same platform;
  - an entry, image config or (with --deep) layer missing from the list's
    repository or layout (for a draft: from the repository of the entry's
    source, where push reads it);
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
		fmt.Fprintf(dockerCLI.Err(), "%s: %s, no problem found\n", termText(r.Reference), plural(r.Entries, "entry"))
	}
	return nil
}

func verify(ctx context.Context, dockerCLI command.Cli, opts verifyOptions) (*copy.Report, error) {
	in, err := copy.Resolve(opts.ref, draftStore())
	if err != nil {
		return nil, err
	}
	if note := in.ShadowNote(); note != "" {
		fmt.Fprintln(dockerCLI.Err(), termText(note))
	}
	r := readers(dockerCLI, opts.registry)
	o, err := copy.Open(ctx, in, r, false)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer o.Close()
	return o.Verify(ctx, r, copy.VerifyOptions{Deep: opts.deep})
}
