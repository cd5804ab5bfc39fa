package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type inspectOptions struct {
	ref      string
	raw      bool
	verbose  bool
	format   string
	registry registryFlags
}

// inspected is the structured view of a list (or single image) that
// --verbose, --format table and templates print.
type inspected struct {
	Name        string            `json:"name"`
	MediaType   string            `json:"mediaType"`
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Manifests   []inspectedEntry  `json:"manifests"`
}

type inspectedEntry struct {
	Ref          string            `json:"ref,omitempty"`
	Platform     string            `json:"platform"`
	MediaType    string            `json:"mediaType"`
	Size         int64             `json:"size"`
	Digest       digest.Digest     `json:"digest"`
	ConfigDigest digest.Digest     `json:"configDigest,omitempty"`
	Layers       []inspectedLayer  `json:"layers,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// label is what the table's PLATFORM column says
	// (manifestlist.PlatformLabels): an attestation's is whose it is.
	label string
}

type inspectedLayer struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}

func newInspectCommand(dockerCLI command.Cli) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] REF",
		Short: "Show a draft, or a manifest list or image in a registry",
		Long: `Show a local draft when one has that name, otherwise the registry's manifest
list or image. --raw prints the exact bytes, whose sha256 is the digest.`,
		Example: `  docker mlist inspect registry.example.com/app:1.0
  docker mlist inspect --raw registry.example.com/app:1.0 | sha256sum
  docker mlist inspect -v --format table registry.example.com/app:1.0`,
		Args:                  cli.ExactArgs(1),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeDrafts,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = args[0]
			return runInspect(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.raw, "raw", false, "Print the exact manifest bytes")
	flags.BoolVarP(&opts.verbose, "verbose", "v", false, "Show every entry with its config and layers")
	addFormatFlag(flags, &opts.format, "json", "output", "json prints the list as the registry holds it, indented (with -v: every entry with its config and layers)")
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runInspect(ctx context.Context, dockerCLI command.Cli, opts inspectOptions) error {
	ref, err := registry.ParseReference(opts.ref)
	if err != nil {
		return err
	}
	subj, err := loadSubject(ctx, dockerCLI, ref, opts.registry)
	if err != nil {
		return err
	}
	if opts.raw {
		_, err := dockerCLI.Out().Write(subj.raw)
		return err
	}
	if !opts.verbose && (opts.format == "" || opts.format == "json") {
		// Trailing whitespace would survive Indent, a carriage return with it.
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimRight(subj.raw, " \t\r\n"), "", "   "); err != nil {
			return fmt.Errorf("inspect %s: %w", ref, err)
		}
		buf.WriteByte('\n')
		_, err := io.WriteString(dockerCLI.Out(), jsonText(buf.String()))
		return err
	}
	view, err := subj.view(ctx, ref, opts.verbose)
	if err != nil {
		return err
	}
	return writeFormatted(dockerCLI.Out(), opts.format, view, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "Name:\t%s\nMediaType:\t%s\nDigest:\t%s\n\n", termText(view.Name), termText(view.MediaType), termText(view.Digest.String()))
		if opts.verbose {
			fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE\tCONFIG\tLAYERS")
		} else {
			fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE")
		}
		for _, m := range view.Manifests {
			p := termText(m.label)
			d, mt := termText(m.Digest.String()), termText(m.MediaType)
			if opts.verbose {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\n", p, d, mt, m.Size, termText(m.ConfigDigest.String()), len(m.Layers))
			} else {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", p, d, mt, m.Size)
			}
		}
	})
}

// subject is what inspect shows: a draft, or what a registry holds.
type subject struct {
	raw  []byte
	list *manifestlist.List // nil for a single image
	// entries are the manifests known without more requests: a draft's, or
	// the single image itself; a registry list's are fetched for --verbose.
	entries []manifestlist.Entry
	sess    *registry.Session
}

// loadSubject prefers a local draft of that name, as docker manifest does.
func loadSubject(ctx context.Context, dockerCLI command.Cli, ref registry.Reference, flags registryFlags) (*subject, error) {
	if ref.Digest == "" {
		draft, err := draftStore().Get(ref.String())
		switch {
		case err == nil:
			// The bytes push writes: an unchanged --from draft's origin, a
			// docker manifest draft's as docker writes them.
			raw, list, err := draft.Serialize()
			if err != nil {
				return nil, fmt.Errorf("inspect %s: %w", draft.Name, err)
			}
			return &subject{raw: raw, list: list, entries: draft.Entries}, nil
		case !errors.Is(err, manifestlist.ErrNotFound):
			return nil, err
		}
	}
	sess := newSession(dockerCLI, flags)
	sess.Want(ref.Host, ref.Repository, "pull")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	raw, desc, err := c.GetManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		return nil, err
	}
	subj := &subject{raw: raw, sess: sess}
	if mt := manifestlist.MediaTypeOf(raw, desc.MediaType); manifestlist.IsList(mt) {
		if subj.list, err = manifestlist.ParseList(raw, mt); err != nil {
			return nil, fmt.Errorf("inspect %s: %w", ref, err)
		}
	} else {
		subj.entries = []manifestlist.Entry{{Source: ref.String(), Raw: raw,
			Descriptor: imgspecv1.Descriptor{MediaType: mt, Digest: desc.Digest, Size: desc.Size}}}
	}
	return subj, nil
}

// view is the structured form; verbose adds each entry's config and layers,
// reading a registry list's entries (concurrently) only then.
func (s *subject) view(ctx context.Context, ref registry.Reference, verbose bool) (inspected, error) {
	v := inspected{Name: ref.String(), Digest: digest.FromBytes(s.raw), Size: int64(len(s.raw)), MediaType: manifestlist.MediaTypeOf(s.raw, "")}
	descs := make([]imgspecv1.Descriptor, 0, len(s.entries))
	if s.list != nil {
		v.Annotations = s.list.Annotations
		descs = s.list.Manifests
	} else {
		single, err := s.single(ctx, ref)
		if err != nil {
			return v, err
		}
		descs = append(descs, single.Descriptor)
	}
	entries := s.entries
	if verbose && entries == nil {
		c, err := s.sess.Client(ctx, ref.Host)
		if err != nil {
			return v, err
		}
		if entries, err = copy.FetchChildren(ctx, c, ref, s.list); err != nil {
			return v, err
		}
	}
	labels := manifestlist.PlatformLabels(descs)
	for i, d := range descs {
		ie := inspectedEntry{Platform: manifestlist.FormatPlatform(d.Platform), MediaType: d.MediaType,
			Size: d.Size, Digest: d.Digest, Annotations: d.Annotations, label: labels[i]}
		if i < len(entries) {
			ie.Ref = entries[i].Source
			if p, err := manifestlist.Parse(entries[i].Raw, d.MediaType); verbose && err == nil && p.Kind == manifestlist.KindImage {
				layers := p.Blobs
				if p.Config != nil {
					ie.ConfigDigest = p.Config.Digest
					layers = layers[1:]
				}
				for _, b := range layers {
					ie.Layers = append(ie.Layers, inspectedLayer{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
				}
			}
		}
		v.Manifests = append(v.Manifests, ie)
	}
	return v, nil
}

// single is a registry's single image as a list entry, its platform read
// from its config (one more request, made only for the views that show it).
func (s *subject) single(ctx context.Context, ref registry.Reference) (manifestlist.Entry, error) {
	e := s.entries[0]
	if s.sess == nil || e.Descriptor.Platform != nil {
		return e, nil
	}
	c, err := s.sess.Client(ctx, ref.Host)
	if err != nil {
		return e, err
	}
	read, err := copy.ImageEntry(ctx, c, ref, e.Raw, e.Descriptor.MediaType)
	if err != nil {
		return e, fmt.Errorf("inspect %s: %w", ref, err)
	}
	e.Descriptor.Platform = read.Descriptor.Platform
	return e, nil
}
