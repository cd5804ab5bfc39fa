package copy

import (
	"context"

	"go.podman.io/image/v5/types"
)

// openSource opens a local location for reading: archives through this
// package's reader, which expands nothing, and layouts through
// containers/image.
func openSource(ctx context.Context, loc Location, sys *types.SystemContext) (source, error) {
	switch loc.Transport() {
	case "oci-archive", "docker-archive":
		return openArchiveSource(loc)
	}
	return openLocalSource(ctx, loc, sys)
}

// openTransferSource opens a local location whose blobs are written
// elsewhere (copy, merge): a docker-archive's layers compressed, as their
// manifest says (see gzipSource).
func openTransferSource(ctx context.Context, loc Location, sys *types.SystemContext) (source, error) {
	s, err := openSource(ctx, loc, sys)
	if err != nil {
		return nil, err
	}
	if loc.Transport() == "docker-archive" {
		s = withGzipLayers(s)
	}
	return s, nil
}

// openDestination opens a local location for writing: a layout under its
// lock, an archive through a temporary file.
func openDestination(ctx context.Context, loc Location, sys *types.SystemContext) (destination, error) {
	switch loc.Transport() {
	case "oci":
		return openLayoutDestination(ctx, loc, sys)
	case "oci-archive", "docker-archive":
		return openArchiveDestination(ctx, loc, sys)
	}
	return openLocalDestination(ctx, loc, sys)
}
