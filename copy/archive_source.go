package copy

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// archiveMetaLimit bounds what is read whole from an archive: index.json,
// manifest.json and image configs.
const archiveMetaLimit = 16 << 20

// archiveSource reads an oci-archive or a docker-archive in place (see
// tarArchive): only the entries the manifests name are read, each no
// further than its descriptor's size, and nothing is written to disk.
type archiveSource struct {
	loc     Location
	tar     *tarArchive
	top     []byte
	topType string
	topD    digest.Digest
	// docker-archive only: the config, read whole, and the layer files by
	// the digests the generated manifest gives them.
	config  []byte
	configD digest.Digest
	layers  map[digest.Digest]archiveLayer
}

type archiveLayer struct {
	name    string
	gzipped bool // served decompressed: the digest is the diff ID
}

func openArchiveSource(loc Location) (*archiveSource, error) {
	// The transports split FILE:REST at the first colon; so does this.
	file, _, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	a, err := openTarArchive(loc.String(), file)
	if err != nil {
		return nil, err
	}
	return &archiveSource{loc: loc, tar: a}, nil
}

func (s *archiveSource) String() string { return s.loc.String() }
func (s *archiveSource) close()         { s.tar.close() }

func (s *archiveSource) resolve(context.Context) (digest.Digest, error) {
	_, rest, _ := strings.Cut(s.loc.Image.StringWithinTransport(), ":")
	var err error
	if s.loc.Transport() == "oci-archive" {
		err = s.resolveOCI(rest)
	} else {
		err = s.resolveDocker(rest)
	}
	return s.topD, err
}

// resolveOCI picks the index.json entry named image, or the only entry.
func (s *archiveSource) resolveOCI(image string) error {
	raw, err := s.tar.readAll(imgspecv1.ImageIndexFile, -1, archiveMetaLimit)
	if err != nil {
		return err
	}
	var idx imgspecv1.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("%s: index.json: %w", s, err)
	}
	var pick *imgspecv1.Descriptor
	var names []string
	for i, d := range idx.Manifests {
		n := d.Annotations[imgspecv1.AnnotationRefName]
		names = append(names, strconv.Quote(n))
		if image != "" && n == image {
			pick = &idx.Manifests[i]
		}
	}
	switch {
	case image == "" && len(idx.Manifests) == 1:
		pick = &idx.Manifests[0]
	case image == "":
		return fmt.Errorf("%s holds %d images; name one as %s:NAME (it has %s)", s, len(idx.Manifests), s, strings.Join(names, ", "))
	case pick == nil:
		return fmt.Errorf("%s has no image named %q (it has %s)", s, image, strings.Join(names, ", "))
	}
	if err := pick.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: index.json: %w", s, err)
	}
	if pick.Size > registry.MaxManifestSize {
		return fmt.Errorf("%s: manifest %s is %d bytes, more than the %d read for one", s, pick.Digest, pick.Size, registry.MaxManifestSize)
	}
	raw, err = s.readBlob(pick.Digest, pick.Size)
	if err != nil {
		return err
	}
	s.top, s.topType, s.topD = raw, manifestlist.MediaTypeOf(raw, pick.MediaType), pick.Digest
	return nil
}

// dockerArchiveItem is one image of a docker save archive's manifest.json.
type dockerArchiveItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	LayerSources map[digest.Digest]manifest.Schema2Descriptor `json:",omitempty"`
}

// resolveDocker picks the manifest.json item that rest names (a name:tag,
// or @N, the Nth), or the only one, and describes it with a Docker v2
// manifest as containers/image does: layers by diff ID.
func (s *archiveSource) resolveDocker(rest string) error {
	raw, err := s.tar.readAll("manifest.json", -1, archiveMetaLimit)
	if err != nil {
		return err
	}
	var items []dockerArchiveItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("%s: manifest.json: %w", s, err)
	}
	var item *dockerArchiveItem
	switch {
	case strings.HasPrefix(rest, "@"):
		n, err := strconv.Atoi(rest[1:])
		if err != nil || n < 0 || n >= len(items) {
			return fmt.Errorf("%s: no image %s; it holds %d", s, rest, len(items))
		}
		item = &items[n]
	case rest != "":
		for i := range items {
			for _, t := range items[i].RepoTags {
				if t == rest || strings.TrimPrefix(t, "docker.io/library/") == rest {
					item = &items[i]
				}
			}
		}
		if item == nil {
			return fmt.Errorf("%s has no image tagged %s", s, rest)
		}
	case len(items) == 1:
		item = &items[0]
	default:
		return fmt.Errorf("%s holds %d images; name one as %s:NAME:TAG or %s:@N", s, len(items), s, s)
	}
	if s.config, err = s.tar.readAll(item.Config, -1, archiveMetaLimit); err != nil {
		return err
	}
	s.configD = digest.FromBytes(s.config)
	var cfg manifest.Schema2Image
	if err := json.Unmarshal(s.config, &cfg); err != nil {
		return fmt.Errorf("%s: config %s: %w", s, item.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(item.Layers) {
		return fmt.Errorf("%s: manifest.json and the config disagree on the number of layers (%d and %d)", s, len(item.Layers), len(cfg.RootFS.DiffIDs))
	}
	m := manifest.Schema2{
		SchemaVersion:     2,
		MediaType:         manifest.DockerV2Schema2MediaType,
		ConfigDescriptor:  manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Size: int64(len(s.config)), Digest: s.configD},
		LayersDescriptors: []manifest.Schema2Descriptor{},
	}
	s.layers = map[digest.Digest]archiveLayer{}
	for i, diffID := range cfg.RootFS.DiffIDs {
		if foreign, ok := item.LayerSources[diffID]; ok {
			m.LayersDescriptors = append(m.LayersDescriptors, foreign)
			continue
		}
		l := archiveLayer{name: path.Clean(item.Layers[i])}
		size, gzipped, err := s.layerSize(l.name)
		if err != nil {
			return err
		}
		l.gzipped = gzipped
		s.layers[diffID] = l
		m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{Digest: diffID, MediaType: manifest.DockerV2Schema2LayerMediaType, Size: size})
	}
	if s.top, err = json.Marshal(&m); err != nil {
		return err
	}
	s.topType, s.topD = manifest.DockerV2Schema2MediaType, digest.FromBytes(s.top)
	return nil
}

// layerSize is the size of a layer file as served: a gzipped one is
// counted through, decompressed in memory, as it will be read.
func (s *archiveSource) layerSize(name string) (int64, bool, error) {
	r, size, err := s.tar.open(name, -1)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	switch c := compressionOf(head); c {
	case "":
		return size, false, nil
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, false, fmt.Errorf("%s: layer %s: %w", s, name, err)
		}
		n, err := io.Copy(io.Discard, zr)
		if err != nil {
			return 0, false, fmt.Errorf("%s: layer %s: %w", s, name, err)
		}
		return n, true, nil
	default:
		return 0, false, fmt.Errorf("%s: layer %s is compressed with %s; only uncompressed and gzip layers are read", s, name, c)
	}
}

func (s *archiveSource) manifest(_ context.Context, d digest.Digest) ([]byte, string, error) {
	if d == s.topD && s.top != nil {
		return s.top, s.topType, nil
	}
	if s.layers != nil {
		return nil, "", fmt.Errorf("%s holds one image; it has no manifest %s", s, d)
	}
	raw, err := s.readBlob(d, -1)
	if err != nil {
		return nil, "", err
	}
	return raw, manifestlist.MediaTypeOf(raw, ""), nil
}

// readBlob reads a manifest from the layout's blobs.
func (s *archiveSource) readBlob(d digest.Digest, size int64) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	name := path.Join(imgspecv1.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
	return s.tar.readAll(name, size, registry.MaxManifestSize)
}

func (s *archiveSource) openBlob(_ context.Context, b registry.Descriptor) (io.ReadCloser, int64, error) {
	if s.layers == nil {
		if err := b.Digest.Validate(); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s, err)
		}
		name := path.Join(imgspecv1.ImageBlobsDir, b.Digest.Algorithm().String(), b.Digest.Encoded())
		return s.tar.open(name, b.Size)
	}
	if b.Digest == s.configD {
		return io.NopCloser(strings.NewReader(string(s.config))), int64(len(s.config)), nil
	}
	l, ok := s.layers[b.Digest]
	if !ok {
		return nil, 0, fmt.Errorf("%s has no blob %s: %w", s, b.Digest, fs.ErrNotExist)
	}
	r, size, err := s.tar.open(l.name, -1)
	if err != nil {
		return nil, 0, err
	}
	if !l.gzipped {
		if b.Size >= 0 && size != b.Size {
			r.Close()
			return nil, 0, fmt.Errorf("%s: %s holds %d bytes, the manifest says %d", s, l.name, size, b.Size)
		}
		return r, size, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		r.Close()
		return nil, 0, fmt.Errorf("%s: layer %s: %w", s, l.name, err)
	}
	return readCloser{io.LimitReader(zr, b.Size), func() { zr.Close(); r.Close() }}, b.Size, nil
}
