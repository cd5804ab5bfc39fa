package copy

import (
	"github.com/docker-mlist/docker-mlist/registry"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// wireDescriptor is the part of a blob's descriptor (as manifestlist.Parse
// gives it) that the registry client moves a blob by.
func wireDescriptor(d imgspecv1.Descriptor) registry.Descriptor {
	return registry.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}
