package copy

import (
	"fmt"
	"io"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
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

// String is the location as the user writes it: a registry reference, or
// TRANSPORT:PATH[:TAG].
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
			if path, _, _ := strings.Cut(rest, ":"); strings.TrimSpace(path) == "" {
				return Location{}, fmt.Errorf("invalid %s location %q: the path is empty; expected %s:PATH[:TAG]", prefix, s, prefix)
			}
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
	// Report, when set, gets one line per manifest written.
	Report io.Writer
}
