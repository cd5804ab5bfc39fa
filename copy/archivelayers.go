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
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// gzipLayers holds the layers of a docker-archive source compressed with
// gzip in a temporary directory. containers/image presents such an archive
// with a manifest it makes up, whose layers are typed gzip but are the
// archive's uncompressed tars, named by their diffIDs; passed on like that,
// a registry or a layout would hold blobs mislabelled as gzip. skopeo
// compresses them on the way; so does this, before anything is written,
// because the engine plans the whole copy (every digest) first. The
// config, and so the image ID and diffIDs, stay as they are.
type gzipLayers struct {
	dir string
	mu  sync.Mutex
	// files are the compressed layers by their new digest.
	files map[digest.Digest]string
}

// compressArchiveLayers compresses every layer of the docker-archive
// manifest raw, read from src, and returns the manifest describing the
// compressed layers.
func compressArchiveLayers(ctx context.Context, src types.ImageSource, name string, raw []byte) ([]byte, *gzipLayers, error) {
	var m dockerManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: parse manifest: %w", name, err)
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
		if done[l.Digest] == nil {
			done[l.Digest] = &dockerDescriptor{}
			todo = append(todo, l)
		}
	}
	err = each(ctx, runtime.NumCPU(), todo, func(ctx context.Context, l *dockerDescriptor) error {
		d, err := g.compress(ctx, src, name, *l)
		*done[l.Digest] = d
		return err
	})
	if err != nil {
		g.remove()
		return nil, nil, err
	}
	for i, l := range m.Layers {
		m.Layers[i] = *done[l.Digest]
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
func (g *gzipLayers) compress(ctx context.Context, src types.ImageSource, name string, l dockerDescriptor) (dockerDescriptor, error) {
	r, _, err := src.GetBlob(ctx, types.BlobInfo{Digest: l.Digest, Size: l.Size}, none.NoCache)
	if err != nil {
		return l, fmt.Errorf("read layer %s of %s: %w", l.Digest, name, err)
	}
	defer r.Close()
	f, err := os.CreateTemp(g.dir, "layer-")
	if err != nil {
		return l, err
	}
	defer f.Close()
	h := digest.Canonical.Digester()
	n := &countingWriter{w: io.MultiWriter(f, h.Hash())}
	zw := gzip.NewWriter(n)
	in := &verifyingReader{r: ctxReader{ctx, r}, v: newVerifier("layer", name, l.Digest, l.Size)}
	if _, err := io.Copy(zw, in); err != nil {
		return l, fmt.Errorf("compress layer %s of %s: %w", l.Digest, name, err)
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
func (g *gzipLayers) open(b registry.Descriptor, off int64) (body io.ReadCloser, ok bool, err error) {
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
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
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

// ctxReader stops a long read when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
