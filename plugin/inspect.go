package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
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
	Name string `json:"name"`
	// Source is where it was read: "draft", "registry", "oci",
	// "oci-archive" or "docker-archive".
	Source      string            `json:"source"`
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
		Short: "Show a draft, or a manifest list or image in a registry or layout",
		Long: `Show a local draft when one has that name (with a note on stderr), otherwise
the registry's manifest list or image; docker://REF always means the registry,
oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker-archive:FILE[:REF] a local
layout. --raw prints the exact bytes, whose sha256 is the digest.`,
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
	in, err := copy.Resolve(opts.ref, draftStore())
	if err != nil {
		return err
	}
	o, err := copy.Open(ctx, in, readers(dockerCLI, opts.registry), false)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	defer o.Close()
	if note := in.ShadowNote(); note != "" {
		fmt.Fprintln(dockerCLI.Err(), termText(note))
	}
	if opts.raw {
		_, err := dockerCLI.Out().Write(o.Raw)
		return err
	}
	if !opts.verbose && (opts.format == "" || opts.format == "json") {
		// Trailing whitespace would survive Indent, a carriage return with it.
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimRight(o.Raw, " \t\r\n"), "", "   "); err != nil {
			return fmt.Errorf("inspect %s: %w", in, err)
		}
		buf.WriteByte('\n')
		_, err := io.WriteString(dockerCLI.Out(), jsonText(buf.String()))
		return err
	}
	view, err := inspectView(ctx, o, opts.verbose)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", in, err)
	}
	// People read sizes on a terminal; a script reading the table gets
	// exact bytes, as JSON has them.
	size := func(n int64) string { return fmt.Sprint(n) }
	if dockerCLI.Out().IsTerminal() {
		size = humanSize
	}
	return writeFormatted(dockerCLI.Out(), opts.format, view, func(w *tabwriter.Writer) {
		writeInspectTable(w, view, opts.verbose, size)
	})
}

// writeInspectTable is inspect's table: the list, then one row per entry
// with its platform (an attestation's: whose it is) and size.
func writeInspectTable(w io.Writer, view inspected, verbose bool, size func(int64) string) {
	fmt.Fprintf(w, "Name:\t%s\nMediaType:\t%s\nDigest:\t%s\n\n", termText(view.Name), termText(view.MediaType), termText(view.Digest.String()))
	if verbose {
		fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE\tCONFIG\tLAYERS")
	} else {
		fmt.Fprintln(w, "PLATFORM\tDIGEST\tMEDIA TYPE\tSIZE")
	}
	for _, m := range view.Manifests {
		p := termText(m.label)
		d, mt := termText(m.Digest.String()), termText(m.MediaType)
		if verbose {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", p, d, mt, size(m.Size), termText(m.ConfigDigest.String()), len(m.Layers))
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p, d, mt, size(m.Size))
		}
	}
}

// inspectView is the structured form; verbose adds each entry's config and
// layers, reading a registry or layout list's entries (concurrently) only
// then.
func inspectView(ctx context.Context, o *copy.Opened, verbose bool) (inspected, error) {
	v := inspected{Name: o.String(), Source: o.Source(), Digest: o.Digest, Size: int64(len(o.Raw)), MediaType: o.MediaType}
	var descs []imgspecv1.Descriptor
	if o.List != nil {
		v.Annotations = o.List.Annotations
		descs = o.List.Manifests
	} else {
		single, err := o.Single(ctx)
		if err != nil {
			return v, err
		}
		descs = []imgspecv1.Descriptor{single.Descriptor}
	}
	var entries []manifestlist.Entry
	if verbose || o.Draft != nil || o.List == nil {
		var err error
		if entries, err = o.Entries(ctx); err != nil {
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
