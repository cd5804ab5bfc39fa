package copy

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	imgcopy "go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/manifest"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// Location is one side of a copy: a registry reference, or a local
// transport of containers/image (an OCI layout directory, an OCI archive, a
// docker save archive).
type Location struct {
	// Registry is set for registry references.
	Registry *registry.Reference
	// Image is the containers/image reference of any location.
	Image types.ImageReference
}

func (l Location) String() string {
	if l.Registry != nil {
		return l.Registry.String()
	}
	return l.Image.Transport().Name() + ":" + l.Image.StringWithinTransport()
}

// transports are the local transports a location may name, by prefix.
var transports = map[string]func(string) (types.ImageReference, error){
	"oci":            ocilayout.ParseReference,
	"oci-archive":    ociarchive.ParseReference,
	"docker-archive": dockerarchive.ParseReference,
}

// ParseLocation reads "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
// "docker-archive:FILE", "docker://REF" or a plain registry reference.
func ParseLocation(s string) (Location, error) {
	if prefix, rest, ok := strings.Cut(s, ":"); ok {
		if parse, known := transports[prefix]; known {
			ref, err := parse(rest)
			if err != nil {
				return Location{}, fmt.Errorf("invalid %s location %q: %w", prefix, s, err)
			}
			return Location{Image: ref}, nil
		}
	}
	r, err := registry.ParseReference(strings.TrimPrefix(s, "docker://"))
	if err != nil {
		return Location{}, fmt.Errorf("%w (or use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE)", err)
	}
	ir, err := docker.ParseReference("//" + r.String())
	if err != nil && r.Tag != "" && r.Digest != "" {
		// containers/image refuses tag+digest; the digest is what counts.
		ir, err = docker.ParseReference("//" + r.WithDigest(r.Digest).String())
	}
	if err != nil {
		return Location{}, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	return Location{Registry: &r, Image: ir}, nil
}

// ImageOptions tune CopyImage.
type ImageOptions struct {
	SourceCtx, DestinationCtx *types.SystemContext
	// MediaType converts the copy: "docker" or "oci"; "" preserves digests.
	MediaType string
	// Platform, when set, copies only that platform's image of a list, as a
	// single image (what a docker-archive can hold).
	Platform *imgspecv1.Platform
	// Report receives containers/image's progress: bars on a terminal,
	// lines otherwise; nil for none.
	Report io.Writer
}

// CopyImage copies a list with all its images (or a single image) through
// containers/image: the path for local transports and for conversions.
func CopyImage(ctx context.Context, src, dst Location, opts ImageOptions) (digest.Digest, error) {
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return "", err
	}
	defer func() { _ = policy.Destroy() }()
	o := &imgcopy.Options{
		SourceCtx:          opts.SourceCtx,
		DestinationCtx:     opts.DestinationCtx,
		ReportWriter:       opts.Report,
		ImageListSelection: imgcopy.CopyAllImages,
		PreserveDigests:    opts.MediaType == "",
		// Lookaside signatures live in host directories docker-mlist must not touch.
		RemoveSignatures:                      true,
		OptimizeDestinationImageAlreadyExists: true,
		MaxParallelDownloads:                  uint(Jobs),
	}
	if p := opts.Platform; p != nil {
		o.ImageListSelection = imgcopy.CopySystemImage
		sys := types.SystemContext{}
		if opts.SourceCtx != nil {
			sys = *opts.SourceCtx
		}
		sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice = p.OS, p.Architecture, p.Variant
		o.SourceCtx = &sys
	}
	switch opts.MediaType {
	case "":
	case "oci":
		o.ForceManifestMIMEType = imgspecv1.MediaTypeImageManifest
	case "docker":
		o.ForceManifestMIMEType = manifest.DockerV2Schema2MediaType
	default:
		return "", fmt.Errorf("invalid media type %q: accepted: docker, oci", opts.MediaType)
	}
	if o.ReportWriter == nil {
		o.ReportWriter = io.Discard
	}
	out, err := imgcopy.Image(ctx, policy, dst.Image, src.Image, o)
	if err != nil && strings.Contains(err.Error(), "does not support copying multiple images") {
		return "", fmt.Errorf("copy %s to %s: a docker-archive holds one image; choose it with --platform, or use oci-archive: for the whole list", src, dst)
	}
	if err != nil && opts.MediaType == "" && strings.Contains(err.Error(), "Instructed to preserve digests") {
		return "", fmt.Errorf("copy %s to %s: the destination cannot hold these manifests unchanged (an OCI layout holds only OCI manifests); convert with --media-type oci, which changes digests", src, dst)
	}
	if err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return manifest.Digest(out)
}
