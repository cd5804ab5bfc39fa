package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	flags.StringVar(&opts.format, "format", "", formatHelp)
	flags.BoolVar(&opts.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
	return cmd
}

func runInspect(ctx context.Context, dockerCLI command.Cli, opts inspectOptions) error {
	ref, err := registry.ParseReference(opts.ref)
	if err != nil {
		return err
	}
	var (
		raw     []byte
		entries []manifestlist.Entry // nil when the children must be fetched
		list    *manifestlist.List
	)
	draft, err := draftStore().Get(ref.String())
	switch {
	case err == nil && ref.Digest == "":
		if list, err = draft.List(); err != nil {
			return err
		}
		if raw, err = list.Serialize(); err != nil {
			return fmt.Errorf("inspect %s: %w", draft.Name, err)
		}
		entries = draft.Entries
	case err != nil && !errors.Is(err, manifestlist.ErrNotFound):
		return err
	}

	var sess *registry.Session
	if raw == nil {
		sess = newSession(dockerCLI, opts.registry)
		sess.Want(ref.Host, ref.Repository, "pull")
		c, err := sess.Client(ctx, ref.Host)
		if err != nil {
			return err
		}
		var desc registry.Descriptor
		if raw, desc, err = c.GetManifest(ctx, ref.Repository, ref.Ref()); err != nil {
			return err
		}
		if mt := mediaTypeOf(raw, desc.MediaType); manifestlist.IsList(mt) {
			if list, err = manifestlist.ParseList(raw, mt); err != nil {
				return fmt.Errorf("inspect %s: %w", ref, err)
			}
		} else {
			entries = []manifestlist.Entry{{Source: ref.String(), Raw: raw}}
			entries[0].Descriptor.MediaType, entries[0].Descriptor.Digest, entries[0].Descriptor.Size = mt, desc.Digest, desc.Size
		}
	}

	if opts.raw {
		_, err := dockerCLI.Out().Write(raw)
		return err
	}
	if !opts.verbose && (opts.format == "" || opts.format == "json") {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "   "); err != nil {
			return fmt.Errorf("inspect %s: %w", ref, err)
		}
		buf.WriteByte('\n')
		_, err := dockerCLI.Out().Write(buf.Bytes())
		return err
	}

	view := inspected{Name: ref.String(), Digest: digest.FromBytes(raw), Size: int64(len(raw)), MediaType: mediaTypeOf(raw, "")}
	if list != nil {
		view.Annotations = list.Annotations
		if entries == nil {
			if entries, err = fetchChildren(ctx, sess, ref, list); err != nil {
				return err
			}
		}
	}
	for i, e := range entries {
		d := e.Descriptor
		if list != nil {
			d = list.Manifests[i]
		}
		ie := inspectedEntry{Ref: e.Source, Platform: manifestlist.FormatPlatform(d.Platform), MediaType: d.MediaType,
			Size: d.Size, Digest: d.Digest, Annotations: d.Annotations}
		if opts.verbose {
			if blobs, err := copy.Blobs(e.Raw); err == nil && len(blobs) > 0 {
				ie.ConfigDigest = blobs[0].Digest
				for _, b := range blobs[1:] {
					ie.Layers = append(ie.Layers, inspectedLayer{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
				}
			}
		}
		view.Manifests = append(view.Manifests, ie)
	}
	return writeFormatted(dockerCLI.Out(), opts.format, view, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "Name:\t%s\nMediaType:\t%s\nDigest:\t%s\n\n", view.Name, view.MediaType, view.Digest)
		if opts.verbose {
			fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE\tCONFIG\tLAYERS")
		} else {
			fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE")
		}
		for _, m := range view.Manifests {
			p := m.Platform
			if manifestlist.IsAttestation(listDescriptor(list, m.Digest)) {
				p = "attestation"
			}
			if opts.verbose {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\n", p, m.Digest, m.MediaType, m.Size, m.ConfigDigest, len(m.Layers))
			} else {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", p, m.Digest, m.MediaType, m.Size)
			}
		}
	})
}

func listDescriptor(l *manifestlist.List, d digest.Digest) (out imgspecv1.Descriptor) {
	if l == nil {
		return out
	}
	for _, m := range l.Manifests {
		if m.Digest == d {
			return m
		}
	}
	return out
}

// fetchChildren reads every entry of a registry list concurrently.
func fetchChildren(ctx context.Context, sess *registry.Session, ref registry.Reference, list *manifestlist.List) ([]manifestlist.Entry, error) {
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	out := make([]manifestlist.Entry, len(list.Manifests))
	err = copy.ForEach(ctx, list.Manifests, func(ctx context.Context, i int, d imgspecv1.Descriptor) error {
		raw, _, err := c.GetManifest(ctx, ref.Repository, d.Digest.String())
		if err != nil {
			return fmt.Errorf("entry %s of %s: %w", d.Digest, ref, err)
		}
		out[i] = manifestlist.Entry{Source: ref.WithDigest(d.Digest).String(), Descriptor: d, Raw: raw}
		return nil
	})
	return out, err
}
