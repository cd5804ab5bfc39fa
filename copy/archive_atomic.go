package copy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/types"
)

// archiveDestination writes an oci-archive or docker-archive to a
// temporary file beside the target, renamed over it once complete: the
// target is whole or untouched, whatever stops the copy.
type archiveDestination struct {
	*localDestination
	target, tmp string
	renamed     bool
}

func openArchiveDestination(ctx context.Context, loc Location, sys *types.SystemContext) (*archiveDestination, error) {
	// The transports split FILE:REST at the first colon; so does this.
	target, rest, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	tmp := f.Name()
	f.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	var ref types.ImageReference
	switch loc.Transport() {
	case "oci-archive":
		ref, err = ociarchive.NewReference(tmp, rest)
	case "docker-archive":
		var named reference.NamedTagged
		if n := loc.Image.DockerReference(); n != nil {
			nt, isTagged := n.(reference.NamedTagged)
			if !isTagged {
				return nil, fmt.Errorf("%s: the name needs a tag", loc)
			}
			named = nt
		}
		ref, err = dockerarchive.NewReference(tmp, named)
	default:
		err = errors.New("internal: not an archive")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	ld, err := openLocalDestination(ctx, Location{Image: ref}, sys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	ld.loc = loc // messages name the target, not the temporary file
	ok = true
	return &archiveDestination{localDestination: ld, target: target, tmp: tmp}, nil
}

// commit completes the temporary archive, syncs it and renames it over
// the target.
func (d *archiveDestination) commit(ctx context.Context) error {
	if err := d.localDestination.commit(ctx); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	f, err := os.Open(d.tmp)
	if err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	if err := os.Rename(d.tmp, d.target); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	d.renamed = true
	return nil
}

// close removes the temporary archive of a copy that did not commit.
func (d *archiveDestination) close() {
	d.localDestination.close()
	if !d.renamed {
		os.Remove(d.tmp)
	}
}
