package plugin

import (
	"context"
	"fmt"
	"io"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type copyOptions struct {
	source, destination string
	platforms           string
	mediaType           string
	referrers           bool
	jobs                int
	quiet               bool
	sides
}

func newCopyCommand(dockerCLI command.Cli) *cobra.Command {
	var opts copyOptions
	cmd := &cobra.Command{
		Use:     "copy [OPTIONS] SOURCE DESTINATION",
		Aliases: []string{"cp"},
		Short:   "Copy a list with all its images, or one image, between repositories and registries",
		Long: `Copy a manifest list or OCI index with every manifest and blob it references
(or a single image), within or across registries. Digests are preserved: the
destination list is byte-identical to the source. What the destination already
holds is not copied again; within a registry, blobs are mounted.

SOURCE and DESTINATION are registry references, or oci:DIR[:TAG],
oci-archive:FILE[:TAG] or docker-archive:FILE. The destination digest is
printed on stdout.`,
		Example: `  docker mlist copy registry.example.com/app:1.0 mirror.example.com/app:1.0
  docker mlist copy --platform linux/amd64,linux/arm64 registry.example.com/app:1.0 mirror.example.com/app:1.0-slim
  docker mlist copy registry.example.com/app:1.0 oci-archive:app-1.0.tar:1.0`,
		Args:                  cli.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.source, opts.destination = args[0], args[1]
			return runCopy(cmd.Context(), dockerCLI, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.platforms, "platform", "", "Copy only these platforms (comma separated) and write a list of just them")
	flags.StringVar(&opts.mediaType, "media-type", "", `Convert to "docker" or "oci" manifests (changes digests)`)
	flags.BoolVar(&opts.referrers, "referrers", false, "Also copy what refers to the images: OCI referrers (referrers API, or sha256-<digest> tag-schema index), and cosign's sha256-<digest>.sig/.att/.sbom tags")
	flags.IntVarP(&opts.jobs, "jobs", "j", copy.Jobs, "Transfers to run at once")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Print only the destination digest")
	opts.sides.install(flags)
	return cmd
}

func runCopy(ctx context.Context, dockerCLI command.Cli, opts copyOptions) error {
	src, err := copy.ParseLocation(opts.source)
	if err != nil {
		return err
	}
	dst, err := copy.ParseLocation(opts.destination)
	if err != nil {
		return err
	}
	var platforms []imgspecv1.Platform
	if opts.platforms != "" {
		if platforms, err = manifestlist.ParsePlatforms(opts.platforms); err != nil {
			return err
		}
	}
	mediaType, err := manifestlist.ParseListType(opts.mediaType)
	if err != nil {
		return err
	}
	if opts.jobs < 1 {
		return fmt.Errorf("invalid --jobs %d: must be at least 1", opts.jobs)
	}
	copy.Jobs = opts.jobs
	srcSess, dstSess, err := opts.sessions(dockerCLI)
	if err != nil {
		return err
	}
	var progress io.Writer = dockerCLI.Err()
	if opts.quiet {
		progress = nil
	}

	if src.Registry == nil || dst.Registry == nil || mediaType != "" {
		if len(platforms) > 1 || opts.referrers {
			return fmt.Errorf("copy %s to %s: several --platform values and --referrers work between registries without --media-type", src, dst)
		}
		return copyThroughImage(ctx, dockerCLI, src, dst, mediaType, platforms, opts, progress)
	}

	s, d := *src.Registry, *dst.Registry
	srcSess.Want(s.Host, s.Repository, "pull")
	dstSess.Want(d.Host, d.Repository, "pull", "push")
	if srcSess == dstSess && s.Host == d.Host {
		dstSess.Want(s.Host, s.Repository, "pull") // one token that also allows the mount
	}
	sc, err := srcSess.Client(ctx, s.Host)
	if err != nil {
		return err
	}
	dc, err := dstSess.Client(ctx, d.Host)
	if err != nil {
		return err
	}
	stats := &copy.Stats{Progress: progress}
	stopProgress := func() {}
	if progress != nil && dockerCLI.Err().IsTerminal() {
		// On a terminal one live line replaces the per-manifest lines.
		stats.Progress = nil
		stopProgress = showProgress(progress, stats)
	}
	res, err := copy.Copy(ctx, copy.Endpoint{Client: sc, Repository: s.Repository}, s.Ref(),
		copy.Endpoint{Client: dc, Repository: d.Repository}, d.Tag, copy.Options{Platforms: platforms, Referrers: opts.referrers}, stats)
	stopProgress()
	for _, w := range res.Warnings {
		fmt.Fprintln(dockerCLI.Err(), "WARNING:", termText(w))
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if progress != nil {
		counts, _ := stats.Snapshot()
		if res.Unchanged {
			fmt.Fprintf(progress, "%s already holds %s\n", dst, res.Digest)
		} else {
			fmt.Fprintf(progress, "Copied %s to %s: %d manifests written (%d already there), %d blobs mounted, %d copied (%d bytes), %d already there\n",
				src, dst, counts.Manifests, counts.Present, counts.Mounted, counts.Uploaded, counts.BytesUploaded, counts.BlobsPresent)
		}
	}
	fmt.Fprintln(dockerCLI.Out(), res.Digest)
	return nil
}

// copyThroughImage copies with containers/image: local transports, and
// conversions between Docker and OCI manifests.
func copyThroughImage(ctx context.Context, dockerCLI command.Cli, src, dst copy.Location, mediaType string, platforms []imgspecv1.Platform, opts copyOptions, progress io.Writer) error {
	srcFlags, dstFlags, err := opts.flags(dockerCLI)
	if err != nil {
		return err
	}
	if mediaType != "" && src.Registry != nil {
		if err := refuseSignedConversion(ctx, dockerCLI, *src.Registry, srcFlags); err != nil {
			return err
		}
	}
	imgOpts := copy.ImageOptions{MediaType: mediaType, Report: progress}
	if len(platforms) == 1 {
		imgOpts.Platform = &platforms[0]
	}
	if imgOpts.SourceCtx, err = systemContext(dockerCLI, hostOf(src), srcFlags); err != nil {
		return err
	}
	if imgOpts.DestinationCtx, err = systemContext(dockerCLI, hostOf(dst), dstFlags); err != nil {
		return err
	}
	d, err := copy.CopyImage(ctx, src, dst, imgOpts)
	if err != nil {
		return err
	}
	fmt.Fprintln(dockerCLI.Out(), d)
	return nil
}

func hostOf(l copy.Location) string {
	if l.Registry == nil {
		return ""
	}
	return l.Registry.Host
}

// refuseSignedConversion stops a conversion of a signed image: new digests
// would leave its cosign signatures and attestations pointing at nothing.
func refuseSignedConversion(ctx context.Context, dockerCLI command.Cli, ref registry.Reference, flags registryFlags) error {
	sess := newSession(dockerCLI, flags)
	sess.Want(ref.Host, ref.Repository, "pull")
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return err
	}
	desc, err := c.HeadManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		return err
	}
	base := desc.Digest.Algorithm().String() + "-" + desc.Digest.Encoded()
	for _, suffix := range []string{".sig", ".att"} {
		if _, err := c.HeadManifest(ctx, ref.Repository, base+suffix); err == nil {
			return fmt.Errorf("copy %s: --media-type would change its digest and invalidate its signature %s:%s; copy it unchanged instead", ref, ref.Name(), base+suffix)
		}
	}
	if refs, err := c.Referrers(ctx, ref.Repository, desc.Digest); err == nil && len(refs) > 0 {
		return fmt.Errorf("copy %s: --media-type would change its digest and orphan its %d referrers (signatures, attestations); copy it unchanged instead", ref, len(refs))
	}
	return nil
}
