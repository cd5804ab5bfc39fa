package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// holder is where a read (inspect, diff, verify, create) finds manifests
// and blobs by digest: a registry repository (Endpoint) or a local layout
// or archive (sourceHolder). Each read is verified against its digest, and
// a missing one is an error wrapping registry.ErrNotFound, wherever it
// lives.
type holder interface {
	String() string
	manifestByDigest(ctx context.Context, d digest.Digest) ([]byte, error)
	// readBlob reads a small blob (an image config) whole, at most limit
	// bytes.
	readBlob(ctx context.Context, d digest.Digest, limit int64) ([]byte, error)
	hasBlob(ctx context.Context, d digest.Digest) (bool, error)
}

func (e Endpoint) manifestByDigest(ctx context.Context, d digest.Digest) ([]byte, error) {
	raw, _, err := e.Client.GetManifest(ctx, e.Repository, d.String())
	return raw, err
}

func (e Endpoint) readBlob(ctx context.Context, d digest.Digest, limit int64) ([]byte, error) {
	return e.Client.ReadBlob(ctx, e.Repository, d, limit)
}

func (e Endpoint) hasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	return e.Client.BlobExists(ctx, e.Repository, d)
}

// sourceHolder reads a local location through the copy engine's source.
type sourceHolder struct{ src source }

func (h sourceHolder) String() string { return h.src.String() }

// missing makes a local "no such file" a registry.ErrNotFound, so that
// callers tell a missing manifest or blob from a broken read one way.
func (h sourceHolder) missing(what string, d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s in %s: %w", what, d, h.src, registry.ErrNotFound)
	}
	return err
}

func (h sourceHolder) manifestByDigest(ctx context.Context, d digest.Digest) ([]byte, error) {
	raw, _, err := h.src.manifest(ctx, d)
	if err != nil {
		return nil, h.missing("manifest", d, err)
	}
	if digest.FromBytes(raw) != d {
		return nil, fmt.Errorf("manifest %s in %s: %w", d, h.src, registry.ErrDigestMismatch)
	}
	return raw, nil
}

func (h sourceHolder) readBlob(ctx context.Context, d digest.Digest, limit int64) ([]byte, error) {
	body, _, err := h.src.openBlob(ctx, registry.Descriptor{Digest: d, Size: -1})
	if err != nil {
		return nil, h.missing("blob", d, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s in %s: %w", d, h.src, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s in %s: more than %d bytes", d, h.src, limit)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s in %s: %w", d, h.src, registry.ErrDigestMismatch)
	}
	return b, nil
}

func (h sourceHolder) hasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	if a, ok := h.src.(*archiveSource); ok && a.layers == nil {
		// An index lookup: opening a blob of a compressed archive would
		// read the archive up to it.
		if err := d.Validate(); err != nil {
			return false, err
		}
		_, ok := a.tar.lookup(path.Join(imgspecv1.ImageBlobsDir, d.Algorithm().String(), d.Encoded()))
		return ok, nil
	}
	body, _, err := h.src.openBlob(ctx, registry.Descriptor{Digest: d, Size: -1})
	if errors.Is(h.missing("blob", d, err), registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	body.Close()
	return true, nil
}
