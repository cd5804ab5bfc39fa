package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// source is the side a copy reads: a registry repository or a local
// transport's ImageSource.
type source interface {
	String() string
	// resolve returns the digest of the manifest to copy.
	resolve(ctx context.Context) (digest.Digest, error)
	// manifest reads the manifest d (unverified: the engine verifies it).
	manifest(ctx context.Context, d digest.Digest) ([]byte, string, error)
	// openBlob opens blob b for reading; total is its size, -1 if unknown.
	// A source that can read on after a cut body does so itself.
	openBlob(ctx context.Context, b registry.Descriptor) (body io.ReadCloser, total int64, err error)
	close()
}

// destination is the side a copy writes.
type destination interface {
	String() string
	// putBlob makes blob b present, from the engine's source (a foreign
	// layer: from its URLs), verified.
	putBlob(ctx context.Context, e *engine, b neededBlob) error
	// putManifest writes a manifest: by digest when ref is "", else under
	// ref (a tag); top marks the manifest the copy names.
	putManifest(ctx context.Context, raw []byte, mediaType string, d digest.Digest, ref string, top bool) error
	// holdsLists is false for a destination of one image (docker-archive).
	holdsLists() bool
	// parallel says whether blobs may be written concurrently.
	parallel() bool
	commit(ctx context.Context) error
	close()
}

// registrySource reads ref (tag or digest) of a registry repository.
type registrySource struct {
	ep  Endpoint
	ref string
	// top is the manifest readTop read by tag, topType its media type and
	// topD its digest.
	top     []byte
	topType string
	topD    digest.Digest
}

// byDigest says whether ref is a digest.
func (s *registrySource) byDigest() bool {
	_, err := digest.Parse(s.ref)
	return err == nil
}

// readTop reads the manifest ref names with one GET and keeps it for
// manifest: resolving with a HEAD first would cost a request more.
func (s *registrySource) readTop(ctx context.Context) (digest.Digest, error) {
	raw, desc, err := s.ep.Client.GetManifest(ctx, s.ep.Repository, s.ref)
	if err != nil {
		return "", err
	}
	s.top, s.topType, s.topD = raw, desc.MediaType, desc.Digest
	return desc.Digest, nil
}

func (s *registrySource) String() string { return s.ep.String() }

func (s *registrySource) resolve(ctx context.Context) (digest.Digest, error) {
	if d, err := digest.Parse(s.ref); err == nil {
		return d, nil
	}
	desc, err := s.ep.Client.HeadManifest(ctx, s.ep.Repository, s.ref)
	if err != nil {
		return "", err
	}
	return desc.Digest, nil
}

func (s *registrySource) manifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	if s.top != nil && d == s.topD {
		return s.top, s.topType, nil
	}
	raw, desc, err := s.ep.Client.GetManifest(ctx, s.ep.Repository, d.String())
	return raw, desc.MediaType, err
}

func (s *registrySource) openBlob(ctx context.Context, b registry.Descriptor) (io.ReadCloser, int64, error) {
	return s.ep.Client.GetBlob(ctx, s.ep.Repository, b.Digest)
}

func (s *registrySource) close() {}

// localSource reads a local transport through its ImageSource.
type localSource struct {
	loc     Location
	src     types.ImageSource
	top     []byte
	topType string
	topD    digest.Digest
}

func openLocalSource(ctx context.Context, loc Location, sys *types.SystemContext) (*localSource, error) {
	s, err := loc.Image.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return &localSource{loc: loc, src: s}, nil
}

func (s *localSource) String() string { return s.loc.String() }

func (s *localSource) resolve(ctx context.Context) (digest.Digest, error) {
	raw, mt, err := s.src.GetManifest(ctx, nil)
	if err != nil {
		return "", err
	}
	s.top, s.topType, s.topD = raw, mt, digest.FromBytes(raw)
	return s.topD, nil
}

func (s *localSource) manifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	if d == s.topD && s.top != nil {
		return s.top, s.topType, nil
	}
	return s.src.GetManifest(ctx, &d)
}

func (s *localSource) openBlob(ctx context.Context, b registry.Descriptor) (io.ReadCloser, int64, error) {
	return s.src.GetBlob(ctx, types.BlobInfo{Digest: b.Digest, Size: b.Size, MediaType: b.MediaType}, none.NoCache)
}

func (s *localSource) close() { s.src.Close() }

// registryDestination writes a registry repository.
type registryDestination struct{ ep Endpoint }

func (d *registryDestination) String() string   { return d.ep.String() }
func (d *registryDestination) holdsLists() bool { return true }
func (d *registryDestination) parallel() bool   { return true }
func (d *registryDestination) commit(context.Context) error {
	return nil
}
func (d *registryDestination) close() {}

func (d *registryDestination) putBlob(ctx context.Context, e *engine, b neededBlob) error {
	return e.registryBlob(ctx, d.ep, b.Descriptor)
}

func (d *registryDestination) putManifest(ctx context.Context, raw []byte, mediaType string, dg digest.Digest, ref string, _ bool) error {
	if ref == "" {
		ref = dg.String()
	}
	_, err := d.ep.Client.PutManifest(ctx, d.ep.Repository, ref, raw, mediaType)
	return err
}

// localDestination writes a local transport through its
// ImageDestination, driven directly: manifests are written with their exact
// bytes, whatever their type (an OCI layout stores any manifest).
type localDestination struct {
	loc Location
	dst types.ImageDestination
	sys *types.SystemContext
	// layout is the OCI layout directory written (an oci-archive's is a
	// temporary one, tarred into archive by commit); "" for a
	// docker-archive.
	layout, archive string
	// later are manifests index.json names once the copy's own manifest
	// is committed (referrers' indexes, cosign's tags).
	later []laterName
}

type laterName struct {
	name string
	raw  []byte
}

func openLocalDestination(ctx context.Context, loc Location, sys *types.SystemContext) (*localDestination, error) {
	// The transports split PATH:IMAGE at the first colon; so does this.
	p, image, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	ld := &localDestination{loc: loc, sys: sys}
	ref := loc.Image
	switch loc.Transport() {
	case "oci":
		ld.layout = p
	case "oci-archive":
		// An oci-archive is written as a layout in a temporary directory
		// (as containers/image's own destination does), where more than
		// one name can go, and tarred once complete.
		tmp, err := os.MkdirTemp("", "docker-mlist-oci-")
		if err != nil {
			return nil, err
		}
		if ref, err = ocilayout.NewReference(tmp, image); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		ld.layout, ld.archive = tmp, p
	}
	d, err := ref.NewImageDestination(ctx, sys)
	if err != nil {
		if ld.archive != "" {
			os.RemoveAll(ld.layout)
		}
		return nil, err
	}
	ld.dst = d
	return ld, nil
}

func (d *localDestination) layoutDir() string { return d.layout }

func (d *localDestination) nameLater(name string, raw []byte, _ string) {
	d.later = append(d.later, laterName{name: name, raw: raw})
}

func (d *localDestination) String() string   { return d.loc.String() }
func (d *localDestination) holdsLists() bool { return d.loc.Transport() != "docker-archive" }
func (d *localDestination) parallel() bool   { return d.dst.HasThreadSafePutBlob() }

// commit writes the layout's index or the archive; what was written before
// is not visible until then, and a docker-archive never committed is
// removed by close.
func (d *localDestination) commit(ctx context.Context) error {
	if err := d.dst.Commit(ctx, nil); err != nil {
		return err
	}
	// Each name is its own write of index.json, after the copy's: a
	// destination writes the index.json it read when it was opened.
	for _, n := range d.later {
		ref, err := ocilayout.NewReference(d.layout, n.name)
		if err != nil {
			return err
		}
		nd, err := ref.NewImageDestination(ctx, d.sys)
		if err != nil {
			return err
		}
		err = nd.PutManifest(ctx, n.raw, nil)
		if err == nil {
			err = nd.Commit(ctx, nil)
		}
		nd.Close()
		if err != nil {
			return fmt.Errorf("name %s in %s: %w", n.name, d.loc, err)
		}
	}
	if d.archive != "" {
		if err := tarLayout(d.layout, d.archive); err != nil {
			return fmt.Errorf("write %s: %w", d.loc, err)
		}
	}
	return nil
}

func (d *localDestination) close() {
	d.dst.Close()
	if d.archive != "" {
		os.RemoveAll(d.layout)
	}
}

func (d *localDestination) putBlob(ctx context.Context, e *engine, nb neededBlob) error {
	b, isConfig, src := nb.Descriptor, nb.config, e.src
	if nb.urls != nil {
		src = &foreignSource{urls: nb.urls}
	}
	e.stats.add(func(s *Stats) { s.BlobsSeen++ })
	info := types.BlobInfo{Digest: b.Digest, Size: b.Size, MediaType: b.MediaType}
	if ok, _, err := d.dst.TryReusingBlob(ctx, info, none.NoCache, false); err != nil {
		return err
	} else if ok && (!isConfig || d.loc.Transport() != "docker-archive") {
		// A docker-archive needs its config passed to it even when present.
		e.stats.add(func(s *Stats) { s.BlobsPresent++ })
		return nil
	}
	release, err := e.acquire(ctx, b)
	if err != nil {
		return err
	}
	defer release()
	e.stats.startBlob(b.Digest, b.Size)
	defer e.stats.endBlob(b.Digest)
	r := newBlobReader(ctx, src, b, e.stats)
	defer r.close()
	if err := r.start(); err != nil {
		return err
	}
	got, err := d.dst.PutBlob(ctx, r, info, none.NoCache, isConfig)
	if rerr := r.failure(); rerr != nil {
		return rerr
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	if err := r.verify(); err != nil {
		return err
	}
	if got.Digest != b.Digest {
		return errors.New("blob " + b.Digest.String() + " was changed on the way: the destination stored " + got.Digest.String())
	}
	e.stats.add(func(s *Stats) { s.Uploaded++ })
	return nil
}

func (d *localDestination) putManifest(ctx context.Context, raw []byte, _ string, dg digest.Digest, _ string, top bool) error {
	if top {
		// The layout's index (or the archive's manifest) names the top
		// manifest with the location's tag.
		return d.dst.PutManifest(ctx, raw, nil)
	}
	return d.dst.PutManifest(ctx, raw, &dg)
}
