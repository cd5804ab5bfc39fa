package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type createOptions struct {
	list      string
	sources   []string
	amend     bool
	mediaType string
	registry  registryFlags
}

func newCreateCommand(dockerCLI command.Cli) *cobra.Command {
	var opts createOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] LIST SOURCE [SOURCE...]",
		Short: "Create a local draft of a manifest list",
		Long: `Create a local draft of a manifest list from images and lists in registries.

Each SOURCE is a tag or digest reference. A single image contributes one
entry, its platform read from the image config; a manifest list or OCI index
contributes all of its entries, attestations included.`,
		Example: `  docker mlist create registry.example.com/app:1.0 \
      registry.example.com/app:1.0-amd64 registry.example.com/app:1.0-arm64
  docker mlist create --amend registry.example.com/app:1.0 registry.example.com/app:1.0-riscv64`,
		Args:                  cli.RequiresMinArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.list, opts.sources = args[0], args[1:]
			return runCreate(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.amend, "amend", "a", false, "Add to an existing draft, replacing entries with the same digest")
	flags.StringVar(&opts.mediaType, "media-type", "", `List type: "docker" (manifest list) or "oci" (image index); default: docker when every entry is a Docker image`)
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runCreate(ctx context.Context, dockerCLI command.Cli, opts createOptions) error {
	name, err := listName(opts.list)
	if err != nil {
		return err
	}
	mediaType, err := parseMediaType(opts.mediaType)
	if err != nil {
		return err
	}
	refs, err := parseReferences(opts.sources)
	if err != nil {
		return err
	}
	store := draftStore()
	draft, err := store.Get(name)
	switch {
	case errors.Is(err, manifestlist.ErrNotFound):
		draft = &manifestlist.Draft{Name: name}
	case err != nil:
		return err
	case !opts.amend:
		return fmt.Errorf("draft %s already exists: add to it with --amend, or remove it with docker mlist rm", name)
	}
	if mediaType != "" {
		draft.MediaType = mediaType
	}

	sess := newSession(dockerCLI, opts.registry)
	for _, r := range refs {
		sess.Want(r.Host, r.Repository, "pull")
	}
	sources, err := fetchAll(ctx, sess, refs)
	if err != nil {
		return err
	}
	for _, s := range sources {
		for _, e := range s.entries {
			draft.Add(e)
		}
	}
	if err := draft.CheckDuplicates(); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// Building the list now catches a --media-type the entries cannot have
	// before anything is written.
	if _, err := draft.List(); err != nil {
		return err
	}
	if err := store.Save(draft); err != nil {
		return fmt.Errorf("save draft %s: %w", name, err)
	}
	fmt.Fprintf(dockerCLI.Out(), "Created manifest list %s\n", name)
	return nil
}

// listName normalises a list reference; a list is addressed by tag.
func listName(s string) (string, error) {
	r, err := registry.ParseReference(s)
	if err != nil {
		return "", err
	}
	if r.Digest != "" {
		return "", fmt.Errorf("invalid list name %q: a list is named by a tag, not a digest", s)
	}
	return r.String(), nil
}

func parseReferences(args []string) ([]registry.Reference, error) {
	refs := make([]registry.Reference, 0, len(args))
	for _, a := range args {
		r, err := registry.ParseReference(a)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// parseMediaType accepts the --media-type values.
func parseMediaType(s string) (string, error) {
	switch s {
	case "", "docker", "oci":
		return s, nil
	case "application/vnd.docker.distribution.manifest.list.v2+json":
		return "docker", nil
	case "application/vnd.oci.image.index.v1+json":
		return "oci", nil
	}
	return "", fmt.Errorf("invalid media type %q: accepted: docker, oci", s)
}
