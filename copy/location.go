package copy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/types"
)

// Location is one side of a copy: a registry reference, or a local
// transport of containers/image (an OCI layout directory, an OCI archive, a
// docker save archive), read and written through that transport's
// ImageSource and ImageDestination by this package's engine.
type Location struct {
	// Registry is set for registry references.
	Registry *registry.Reference
	// Image is the containers/image reference of a local location.
	Image types.ImageReference
	// Tagged says the user named a tag (or digest) in a registry
	// reference; without one, the reference's tag is Docker's "latest".
	Tagged bool
}

// String is the location as the user writes it: a registry reference, or
// TRANSPORT:PATH[:TAG].
func (l Location) String() string {
	if l.Registry != nil {
		return l.Registry.String()
	}
	// containers/image says an OCI location without a tag "PATH:".
	return l.Image.Transport().Name() + ":" + strings.TrimSuffix(l.Image.StringWithinTransport(), ":")
}

// Transport names the kind of location: "registry", "oci", "oci-archive"
// or "docker-archive".
func (l Location) Transport() string {
	if l.Registry != nil {
		return "registry"
	}
	return l.Image.Transport().Name()
}

// path is a local location's file or directory: the transports split
// PATH:IMAGE at the first colon, and so does this.
func (l Location) path() string {
	p, _, _ := strings.Cut(l.Image.StringWithinTransport(), ":")
	return p
}

// LocalTransports are the prefixes (without the colon) of the local
// locations ParseLocation reads, sorted.
func LocalTransports() []string {
	return slices.Sorted(maps.Keys(transports))
}

// transports are the local transports a location may name, by prefix.
var transports = map[string]func(string) (types.ImageReference, error){
	"oci":            ocilayout.ParseReference,
	"oci-archive":    ociarchive.ParseReference,
	"docker-archive": dockerarchive.ParseReference,
}

// LocationForms names every form ParseLocation accepts, for errors.
const LocationForms = "REF, docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]"

// ParseLocation reads "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
// "docker-archive:FILE[:REF]", "docker://REF" or a plain registry reference.
func ParseLocation(s string) (Location, error) {
	loc, err := parseLocation(s)
	if err != nil {
		return Location{}, fmt.Errorf("%w; accepted: %s", err, LocationForms)
	}
	return loc, nil
}

func parseLocation(s string) (Location, error) {
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
	plain := strings.TrimPrefix(s, "docker://")
	r, err := registry.ParseReference(plain)
	if err != nil {
		return Location{}, err
	}
	// ParseReference fills in "latest"; whether the user wrote it matters
	// for what the output says.
	tagged := r.Digest != "" || r.Tag != "latest" || strings.HasSuffix(plain, ":latest")
	return Location{Registry: &r, Tagged: tagged}, nil
}
