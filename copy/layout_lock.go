package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/gofrs/flock"
	"github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// layoutLockName is the lock file of an OCI layout, inside it. It is never
// removed: removing it would let a waiting writer lock a file no newcomer
// can see.
const layoutLockName = ".index.json.lock"

// layoutDestination writes an oci: layout. Blobs go through containers/image
// (a temporary file renamed to its digest); manifests and index.json are
// written here, because containers/image writes both in place and writes
// the index it read when the copy began, dropping the tags other writers
// added meanwhile. index.json is re-read and replaced under the layout's
// lock, by a temporary file renamed over it.
type layoutDestination struct {
	*localDestination
	dir   string
	image string // the tag (ref.name) the location names, "" for none
	// entries are merged into index.json by commit.
	entries []imgspecv1.Descriptor
}

func openLayoutDestination(ctx context.Context, loc Location, sys *types.SystemContext) (*layoutDestination, error) {
	ld, err := openLocalDestination(ctx, loc, sys)
	if err != nil {
		return nil, err
	}
	// ocilayout splits DIR:IMAGE at the first colon; so does this.
	dir, image, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	return &layoutDestination{localDestination: ld, dir: dir, image: image}, nil
}

// putManifest writes the manifest as a blob, whole or not at all; the top
// manifest is named in index.json by commit.
// A top put under a ref (a mirror's tag) is named by it, else by the
// location's tag.
func (d *layoutDestination) putManifest(_ context.Context, raw []byte, mediaType string, dg digest.Digest, ref string, top bool) error {
	p := filepath.Join(d.dir, imgspecv1.ImageBlobsDir, dg.Algorithm().String(), dg.Encoded())
	if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(raw)) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := manifestlist.WriteFileAtomic(p, raw, 0o644); err != nil {
			return fmt.Errorf("write manifest %s: %w", dg, unwrapPathError(err))
		}
	}
	if top {
		desc := imgspecv1.Descriptor{MediaType: mediaType, Digest: dg, Size: int64(len(raw))}
		if ref == "" {
			ref = d.image
		}
		if ref != "" {
			desc.Annotations = map[string]string{imgspecv1.AnnotationRefName: ref}
		}
		d.addIndexEntry(desc)
	}
	return nil
}

// nameLater names raw, a manifest written by digest, name in index.json
// when the copy commits, under the same lock as the copy's own name.
func (d *layoutDestination) nameLater(name string, raw []byte, mediaType string) {
	desc := imgspecv1.Descriptor{MediaType: manifestlist.MediaTypeOf(raw, mediaType), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if name != "" {
		desc.Annotations = map[string]string{imgspecv1.AnnotationRefName: name}
	}
	d.addIndexEntry(desc)
}

// addIndexEntry queues an entry for index.json: commit merges it into the
// index it reads under the lock.
func (d *layoutDestination) addIndexEntry(desc imgspecv1.Descriptor) {
	d.entries = append(d.entries, desc)
}

// commit merges the queued entries into index.json under the layout's lock.
func (d *layoutDestination) commit(context.Context) error {
	if len(d.entries) == 0 {
		return nil
	}
	return lockLayout(d.dir, func() error {
		idx, err := readLayoutIndex(d.dir)
		if err != nil {
			return err
		}
		for _, e := range d.entries {
			mergeIndexEntry(idx, e)
		}
		raw, err := json.Marshal(idx)
		if err != nil {
			return err
		}
		layoutFile := filepath.Join(d.dir, imgspecv1.ImageLayoutFile)
		if _, err := os.Stat(layoutFile); errors.Is(err, fs.ErrNotExist) {
			b, _ := json.Marshal(imgspecv1.ImageLayout{Version: imgspecv1.ImageLayoutVersion})
			if err := manifestlist.WriteFileAtomic(layoutFile, b, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", imgspecv1.ImageLayoutFile, unwrapPathError(err))
			}
		}
		if err := manifestlist.WriteFileAtomic(filepath.Join(d.dir, imgspecv1.ImageIndexFile), raw, 0o644); err != nil {
			return fmt.Errorf("write index.json (the previous one is kept): %w", unwrapPathError(err))
		}
		return nil
	})
}

// unwrapPathError drops the temporary file's name from an error: the user
// knows the layout, and the name is gone.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lockLayout runs fn holding the lock of the layout dir, which a writer in
// another process takes too.
func lockLayout(dir string, fn func() error) error {
	l := flock.New(filepath.Join(dir, layoutLockName), flock.SetPermissions(0o644))
	if err := l.Lock(); err != nil {
		return fmt.Errorf("lock oci:%s: %w", dir, err)
	}
	defer l.Unlock()
	return fn()
}

// readLayoutIndex reads index.json of dir, or an empty index when there is
// none yet; an unreadable one is an error, not something to overwrite.
func readLayoutIndex(dir string) (*imgspecv1.Index, error) {
	raw, err := os.ReadFile(filepath.Join(dir, imgspecv1.ImageIndexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &imgspecv1.Index{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	var idx imgspecv1.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index.json is not a valid index (%v); it is left as it is", err)
	}
	return &idx, nil
}

// mergeIndexEntry adds desc to idx as regclient's ocidir and skopeo do: a
// named entry takes the name from any entry holding it, and replaces an
// unnamed entry of its digest; an unnamed entry is added only for a digest
// the index lacks.
func mergeIndexEntry(idx *imgspecv1.Index, desc imgspecv1.Descriptor) {
	name := desc.Annotations[imgspecv1.AnnotationRefName]
	out := idx.Manifests[:0]
	replaced := false
	for _, m := range idx.Manifests {
		mname := m.Annotations[imgspecv1.AnnotationRefName]
		switch {
		case name != "" && mname == name:
			continue // the name moves to desc
		case m.Digest == desc.Digest && name == "":
			replaced = true // an entry of its own would add nothing
		case m.Digest == desc.Digest && mname == "":
			if replaced {
				continue
			}
			replaced, m = true, desc
		}
		out = append(out, m)
	}
	idx.Manifests = out
	if !replaced {
		idx.Manifests = append(idx.Manifests, desc)
	}
}
