package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

type createOptions struct {
	list          string
	sources       []string
	amend         bool
	mediaType     string
	platforms     platformList
	template      string
	ignoreMissing bool
	from          string
	registry      registryFlags
	// push pushes the list instead of keeping a draft (createPushOptions).
	push createPushOptions
}

func newCreateCommand(dockerCLI command.Cli) *cobra.Command {
	var opts createOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] LIST [SOURCE...] | --from REF [LIST] | --push [-t TAG]... LIST SOURCE...",
		Short: "Create a local draft of a manifest list",
		Long: `Create a local draft of a manifest list from images and lists in registries.

Each SOURCE is a tag or digest reference (docker://REF too). A single image
contributes one entry, its platform read from the image config; a manifest
list or OCI index contributes all of its entries, attestations included.

With --platform and --template (manifest-tool's from-args), the sources are
the template expanded for each platform: OS, ARCH and VARIANT are replaced,
and an empty VARIANT disappears with the separator before it. The template
must name a different image for each platform, and each platform is listed
once.

With --from, the draft is the list REF holds in its registry, with every
entry (attestations included), platform, annotation and the list type; LIST
defaults to REF. REF is read as inspect reads it: a local draft of that name
is copied (with a note on stderr), docker://REF is always the registry; a
local layout is refused, since push reads a draft's entries from registries.
Pushed unchanged, it writes the same bytes and digest, for every list the
registry accepted (entries without a platform, Docker lists of OCI images).

Where create reads an image's config (single images), an entry whose
platform contradicts it gets a WARNING line on stderr.

With --push, the list is built in memory from the sources, as above, and
pushed to LIST at once, as push does, and no draft is kept (as buildx
imagetools create does); -t adds tags, --dry-run, --format and -q work as
in push.`,
		Example: `  docker mlist create registry.example.com/app:1.0 \
      registry.example.com/app:1.0-amd64 registry.example.com/app:1.0-arm64
  docker mlist create --amend registry.example.com/app:1.0 registry.example.com/app:1.0-riscv64
  docker mlist create registry.example.com/app:1.1 --platform linux/amd64,linux/arm64,linux/arm/v7 \
      --template registry.example.com/app:1.1-OS-ARCH-VARIANT
  docker mlist create --from registry.example.com/app:latest registry.example.com/app:1.2
  docker mlist create --push -t latest registry.example.com/app:1.0 \
      registry.example.com/app:1.0-amd64 registry.example.com/app:1.0-arm64`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.from != "" {
				return cli.RequiresMaxArgs(1)(cmd, args)
			}
			return cli.RequiresMinArgs(1)(cmd, args)
		},
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return opts.push.check(cmd, opts)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.push.push {
				opts.list, opts.sources = args[0], args[1:]
				return runCreatePush(cmd.Context(), dockerCLI, opts)
			}
			if opts.from != "" {
				opts.list = opts.from
				if len(args) == 1 {
					opts.list = args[0]
				}
				return runCreateFrom(cmd.Context(), dockerCLI, opts)
			}
			opts.list, opts.sources = args[0], args[1:]
			return runCreate(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.amend, "amend", "a", false, "Add to an existing draft, replacing entries with the same digest")
	flags.StringVar(&opts.mediaType, "media-type", "", `List type: "docker" (manifest list) or "oci" (image index); default: docker when every entry is a Docker image`)
	addPlatformFlag(flags, &opts.platforms, "With --template: the platforms to include")
	flags.StringVar(&opts.template, "template", "", "Image reference template with OS, ARCH and VARIANT placeholders")
	flags.BoolVar(&opts.ignoreMissing, "ignore-missing", false, "With --template: skip platforms whose image does not exist, with a warning")
	flags.StringVar(&opts.from, "from", "", "Start the draft from the list REF holds in its registry (or from the draft REF)")
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	opts.push.install(flags)
	return cmd
}

func runCreate(ctx context.Context, dockerCLI command.Cli, opts createOptions) error {
	in, err := parseCreate(opts)
	if err != nil {
		return err
	}
	name := in.name
	store := draftStore()
	exists := func() error {
		return fmt.Errorf("draft %s already exists: add to it with --amend, or remove it with docker mlist rm", name)
	}
	// Checked before fetching anything, and again under the draft's lock.
	if !opts.amend {
		if _, err := store.Get(name); err == nil {
			return exists()
		} else if !errors.Is(err, manifestlist.ErrNotFound) {
			return err
		}
	}
	sources, err := in.fetch(ctx, dockerCLI, newSession(dockerCLI, opts.registry), opts.ignoreMissing)
	if err != nil {
		return err
	}
	// The draft is read, changed and written under its lock, so concurrent
	// amends each add to the result of the one before.
	var (
		result  *manifestlist.List
		reason  string
		amended bool
	)
	err = store.Edit(name, func(draft *manifestlist.Draft, found bool) error {
		amended = found
		if found && !opts.amend {
			return exists()
		}
		var err error
		result, reason, err = in.add(draft, sources)
		return err
	})
	if err != nil {
		return err
	}
	warnContradictions(dockerCLI.Err(), name, sourceEntries(sources))
	verb := "Created"
	if amended {
		verb = "Updated"
	}
	fmt.Fprintf(dockerCLI.Out(), "%s %s %s (%s)\n", verb, listKind(result.MediaType), name, plural(len(result.Manifests), "entry"))
	if opts.mediaType == "" {
		fmt.Fprintf(dockerCLI.Err(), "note: %s because %s\n", listKind(result.MediaType), reason)
	}
	return nil
}

// createInput is a create's arguments, parsed before anything is read:
// the list's name and type, and its sources.
type createInput struct {
	name, mediaType string
	refs            []registry.Reference
	templated       []templatedSource
}

func parseCreate(opts createOptions) (*createInput, error) {
	name, err := listName(opts.list)
	if err != nil {
		return nil, err
	}
	in := &createInput{name: name}
	if in.mediaType, err = manifestlist.ParseListType(opts.mediaType); err != nil {
		return nil, err
	}
	if in.refs, err = parseReferences(opts.sources); err != nil {
		return nil, err
	}
	if in.templated, err = templateSources(opts); err != nil {
		return nil, err
	}
	if len(in.refs)+len(in.templated) == 0 {
		return nil, fmt.Errorf("create %s: no SOURCE given; name images, or use --platform with --template", name)
	}
	return in, nil
}

// fetch reads the sources, in sess, and holds the platforms read from
// image configs and registry lists to the rules of typed ones.
func (in *createInput) fetch(ctx context.Context, dockerCLI command.Cli, sess *registry.Session, ignoreMissing bool) ([]*fetched, error) {
	sources, err := fetchAll(ctx, sess, in.refs)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", in.name, err)
	}
	fromTemplate, err := fetchTemplated(ctx, dockerCLI, sess, in.templated, ignoreMissing)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", in.name, err)
	}
	sources = append(sources, fromTemplate...)
	fetched := manifestlist.Draft{Entries: sourceEntries(sources)}
	if err := fetched.ValidatePlatforms(); err != nil {
		return nil, fmt.Errorf("create %s: %w", in.name, err)
	}
	return sources, nil
}

// add adds the sources' entries to draft and builds its list, which
// catches a --media-type the entries cannot have before anything is
// written; reason says why the list has its type.
func (in *createInput) add(draft *manifestlist.Draft, sources []*fetched) (*manifestlist.List, string, error) {
	if in.mediaType != "" {
		draft.MediaType = in.mediaType
	}
	for _, s := range sources {
		for _, e := range s.entries {
			draft.Add(e)
		}
	}
	if err := draft.CheckDuplicates(); err != nil {
		return nil, "", fmt.Errorf("create %s: %w", in.name, err)
	}
	result, err := draft.List()
	if err != nil {
		return nil, "", err
	}
	return result, listTypeReason(draft), nil
}

// sourceEntries are the entries of sources, in order.
func sourceEntries(sources []*fetched) []manifestlist.Entry {
	var out []manifestlist.Entry
	for _, s := range sources {
		out = append(out, s.entries...)
	}
	return out
}

// runCreateFrom makes a draft of a list as its registry holds it now, keeping
// its bytes so that an unchanged draft pushes the same digest, or a copy of
// another draft.
func runCreateFrom(ctx context.Context, dockerCLI command.Cli, opts createOptions) error {
	store := draftStore()
	in, err := copy.Resolve(opts.from, store)
	if err != nil {
		return fmt.Errorf("invalid --from: %w", err)
	}
	if in.Location.Registry == nil {
		return fmt.Errorf("--from %s is a local layout; a draft's entries are read from registries when it is pushed, so --from takes a draft name, REF or docker://REF (copy the layout to a registry first)", opts.from)
	}
	from := *in.Location.Registry
	if opts.list == opts.from && (from.Digest != "" || in.Draft != nil) {
		if in.Draft != nil {
			return fmt.Errorf("draft %s already exists: give the copy a name (create --from %s LIST), or start from the registry's list with --from docker://%s", in.Draft.Name, opts.from, in.Draft.Name)
		}
		return fmt.Errorf("--from %s names a list by digest; give the draft a name: create --from REF LIST", opts.from)
	}
	name, err := listName(opts.list)
	if err != nil {
		return err
	}
	switch {
	case opts.amend:
		return errors.New("--from starts a new draft; it does not go with --amend")
	case opts.template != "" || opts.platforms.given() || opts.ignoreMissing:
		return errors.New("--from does not go with --platform, --template or --ignore-missing")
	}
	mediaType, err := manifestlist.ParseListType(opts.mediaType)
	if err != nil {
		return err
	}
	exists := func() error {
		return fmt.Errorf("draft %s already exists: remove it with docker mlist rm first", name)
	}
	if _, err := store.Get(name); err == nil {
		return exists()
	} else if !errors.Is(err, manifestlist.ErrNotFound) {
		return err
	}
	if note := in.ShadowNote(); note != "" {
		fmt.Fprintln(dockerCLI.Err(), termText(note))
	}
	draft, err := draftFrom(ctx, dockerCLI, opts, in, name, mediaType)
	if err != nil {
		return err
	}
	if _, err := draft.List(); err != nil {
		return fmt.Errorf("create --from %s: %w", in, err)
	}
	err = store.Edit(name, func(d *manifestlist.Draft, found bool) error {
		if found {
			return exists()
		}
		*d = *draft
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(dockerCLI.Out(), "Created manifest list %s from %s %s (%s)\n", name, in.Source(), in, plural(len(draft.Entries), "entry"))
	return nil
}

// draftFrom is the draft --from starts: another draft's copy, or the
// registry's list with all its entries.
func draftFrom(ctx context.Context, dockerCLI command.Cli, opts createOptions, in copy.Input, name, mediaType string) (*manifestlist.Draft, error) {
	if in.Draft != nil {
		d := *in.Draft
		d.Name = name
		if mediaType != "" {
			d.MediaType = mediaType
		}
		return &d, nil
	}
	from := *in.Location.Registry
	src, err := copy.FetchSource(ctx, newSession(dockerCLI, opts.registry), from)
	if err != nil {
		return nil, fmt.Errorf("create --from %s: %w", from, err)
	}
	if src.Single != nil {
		return nil, fmt.Errorf("create --from %s: it is a single image, not a list; make a list of it with docker mlist create %s %s", from, name, from)
	}
	kind, _ := manifestlist.ParseListType(src.List.MediaType)
	if mediaType != "" {
		kind = mediaType
	}
	draft := &manifestlist.Draft{Name: name, MediaType: kind, Annotations: src.List.Annotations, Entries: src.Entries, Origin: src.Raw}
	// A registry's list may hold what a draft refuses; drop can fix it.
	if err := draft.CheckDuplicates(); err != nil {
		fmt.Fprintf(dockerCLI.Err(), "WARNING: %s: %s; pushed unchanged the list is written as the registry holds it, edited it needs one dropped\n", from, termText(err.Error()))
	}
	return draft, nil
}

// listTypeReason says why a draft's list has the type it has, following
// manifestlist.ListMediaType: a Docker manifest list only when every entry
// is a Docker image and nothing carries annotations.
func listTypeReason(d *manifestlist.Draft) string {
	if d.MediaType != "" {
		return "--media-type " + d.MediaType + " asked for it"
	}
	for _, e := range d.Entries {
		switch e.Descriptor.MediaType {
		case "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json":
		default:
			return fmt.Sprintf("entry %s is %s, which a Docker manifest list cannot hold", termText(e.Descriptor.Digest.String()), termText(e.Descriptor.MediaType))
		}
	}
	for _, e := range d.Entries {
		if len(e.Descriptor.Annotations) > 0 || e.Descriptor.ArtifactType != "" {
			return fmt.Sprintf("entry %s carries annotations, which a Docker manifest list cannot", termText(e.Descriptor.Digest.String()))
		}
	}
	if len(d.Annotations) > 0 {
		return "the list carries annotations, which a Docker manifest list cannot"
	}
	return "every entry is a Docker image (--media-type oci makes an OCI index)"
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

// parseReferences reads the SOURCEs through the one resolver: a draft's
// entries are read from registries when it is pushed, so a SOURCE is a
// registry reference (REF or docker://REF), and a layout is refused by name.
func parseReferences(args []string) ([]registry.Reference, error) {
	refs := make([]registry.Reference, 0, len(args))
	for _, a := range args {
		ref, err := registryArg("create SOURCE", a)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
