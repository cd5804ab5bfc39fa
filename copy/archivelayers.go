package copy

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
)

// gzipSource is a docker-archive source with its layers compressed. A
// docker save archive is read with a manifest made up for it (as
// containers/image makes it), whose layers are typed gzip but are the
// archive's uncompressed tars, named by their diffIDs; passed on like that,
// a registry or a layout would hold blobs mislabelled as gzip. skopeo
// compresses them on the way; so does this, into a temporary directory
// before anything is written, because the engine plans the whole copy
// (every digest) first. The config, and so the image ID and diffIDs, stay
// as they are.
type gzipSource struct {
	source
	top     []byte
	topType string
	topD    digest.Digest
	layers  *gzipLayers
}

// withGzipLayers wraps the source of a docker-archive.
func withGzipLayers(s source) source { return &gzipSource{source: s} }

func (s *gzipSource) resolve(ctx context.Context) (digest.Digest, error) {
	if s.top != nil {
		return s.topD, nil
	}
	d, err := s.source.resolve(ctx)
	if err != nil {
		return "", err
	}
	raw, mt, err := s.source.manifest(ctx, d)
	if err != nil {
		return "", err
	}
	if raw, s.layers, err = compressArchiveLayers(ctx, s.source, raw); err != nil {
		return "", err
	}
	s.top, s.topType, s.topD = raw, mt, digest.FromBytes(raw)
	return s.topD, nil
}

func (s *gzipSource) manifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	if s.top != nil && d == s.topD {
		return s.top, s.topType, nil
	}
	return s.source.manifest(ctx, d)
}

func (s *gzipSource) openBlob(ctx context.Context, b registry.Descriptor) (io.ReadCloser, int64, error) {
	if r, ok, err := s.layers.open(b); ok {
		return r, b.Size, err
	}
	return s.source.openBlob(ctx, b)
}

func (s *gzipSource) close() {
	s.source.close()
	s.layers.remove()
}

// gzipLayers are compressed layers in a temporary directory.
type gzipLayers struct {
	dir string
	mu  sync.Mutex
	// files are the compressed layers by their new digest.
	files map[digest.Digest]string
}

// compressArchiveLayers compresses every layer of the docker-archive
// manifest raw, read from src, and returns the manifest describing the
// compressed layers. Foreign layers (not in the archive) stay as they are.
func compressArchiveLayers(ctx context.Context, src source, raw []byte) ([]byte, *gzipLayers, error) {
	var m dockerManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: parse manifest: %w", src, err)
	}
	dir, err := os.MkdirTemp("", "docker-mlist-layers-")
	if err != nil {
		return nil, nil, err
	}
	g := &gzipLayers{dir: dir, files: map[digest.Digest]string{}}
	// A layer listed twice is compressed once.
	done := map[digest.Digest]*dockerDescriptor{}
	var todo []*dockerDescriptor
	for i := range m.Layers {
		l := &m.Layers[i]
		if len(l.URLs) > 0 {
			continue
		}
		if done[l.Digest] == nil {
			done[l.Digest] = &dockerDescriptor{}
			todo = append(todo, l)
		}
	}
	err = each(ctx, runtime.NumCPU(), todo, func(ctx context.Context, l *dockerDescriptor) error {
		d, err := g.compress(ctx, src, *l)
		*done[l.Digest] = d
		return err
	})
	if err != nil {
		g.remove()
		return nil, nil, err
	}
	for i, l := range m.Layers {
		if c := done[l.Digest]; c != nil && len(l.URLs) == 0 {
			m.Layers[i] = *c
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		g.remove()
		return nil, nil, err
	}
	return out, g, nil
}

// compress writes layer l (uncompressed, named by its diffID) gzipped to a
// file of g, verifying what it reads, and returns its new descriptor.
func (g *gzipLayers) compress(ctx context.Context, src source, l dockerDescriptor) (dockerDescriptor, error) {
	b := registry.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
	r := newBlobReader(ctx, src, b, nil)
	defer r.close()
	f, err := os.CreateTemp(g.dir, "layer-")
	if err != nil {
		return l, err
	}
	defer f.Close()
	h := digest.Canonical.Digester()
	n := &countingWriter{w: io.MultiWriter(f, h.Hash())}
	zw := gzip.NewWriter(n)
	// The blob reader holds the layer to its diffID and size.
	if _, err := io.Copy(zw, r); err != nil {
		return l, fmt.Errorf("compress layer %s of %s: %w", l.Digest, src, err)
	}
	if err := zw.Close(); err != nil {
		return l, err
	}
	if err := f.Close(); err != nil {
		return l, err
	}
	d := dockerDescriptor{MediaType: manifest.DockerV2Schema2LayerMediaType, Digest: h.Digest(), Size: n.n}
	g.mu.Lock()
	g.files[d.Digest] = f.Name()
	g.mu.Unlock()
	return d, nil
}

// open opens compressed layer b at offset off; ok is false for a blob that
// is not one of g's.
func (g *gzipLayers) open(b registry.Descriptor) (body io.ReadCloser, ok bool, err error) {
	if g == nil {
		return nil, false, nil
	}
	g.mu.Lock()
	path, ok := g.files[b.Digest]
	g.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	return f, true, nil
}

func (g *gzipLayers) remove() {
	if g != nil {
		os.RemoveAll(g.dir)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
