package copy

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	ocilayout "go.podman.io/image/v5/oci/layout"
)

// layoutReferrers is the referrers of an OCI layout (oci: or oci-archive:),
// kept as regclient's ocidir keeps them: each referrer manifest (and its
// blobs) in blobs/, and per subject an OCI index listing them, named in
// index.json by the referrers tag schema's tag, sha256-<hex of the
// subject>. cosign's digest tags (sha256-<hex>.sig, .att, .sbom) are
// index.json names too. As a source it reads index.json and, through the
// engine's source, the manifests it names; it also takes as referrers the
// unnamed index.json entries whose manifest has a subject, as ORAS's
// layouts hold them. As a destination it writes through the engine's
// destination, which names the tags in index.json once the copy is
// committed.
type layoutReferrers struct {
	loc Location
	src source       // a source: what reads the layout's manifests
	dst layoutWriter // a destination: what writes them
	// read are the manifests a plan read, by digest: not read again.
	read map[digest.Digest]*node

	mu    sync.Mutex
	names map[string]imgspecv1.Descriptor // index.json, by name, once read
	// bySubject are a source's unnamed entries with a subject.
	bySubject map[digest.Digest][]imgspecv1.Descriptor
}

func (s *layoutReferrers) index(ctx context.Context) (map[string]imgspecv1.Descriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names != nil {
		return s.names, nil
	}
	loc := s.loc
	if s.dst != nil {
		// A destination's names are those of the layout it writes (an
		// oci-archive's: a new one).
		ref, err := ocilayout.NewReference(s.dst.layoutDir(), "")
		if err != nil {
			return nil, err
		}
		loc = Location{Image: ref}
	}
	idx, err := readLocalIndex(loc)
	if err != nil {
		return nil, err
	}
	s.names = map[string]imgspecv1.Descriptor{}
	s.bySubject = map[digest.Digest][]imgspecv1.Descriptor{}
	for _, d := range idx.Manifests {
		if n := d.Annotations[imgspecv1.AnnotationRefName]; n != "" {
			s.names[n] = d
			continue
		}
		if s.dst != nil || d.MediaType != imgspecv1.MediaTypeImageManifest || d.Size > registry.MaxManifestSize {
			continue
		}
		raw, _, err := s.src.manifest(ctx, d.Digest)
		if err != nil {
			return nil, err
		}
		if err := checkManifest(s.loc.String(), Manifest{Digest: d.Digest, Size: d.Size, Raw: raw}); err != nil {
			return nil, err
		}
		m, err := manifestlist.Parse(raw, d.MediaType)
		if err != nil || m.Subject == nil {
			continue
		}
		if d.ArtifactType == "" {
			d.ArtifactType = m.ArtifactType
			if d.ArtifactType == "" && m.Config != nil {
				d.ArtifactType = m.Config.MediaType
			}
		}
		if d.Annotations == nil {
			d.Annotations = m.Annotations
		}
		s.bySubject[m.Subject.Digest] = append(s.bySubject[m.Subject.Digest], d)
	}
	return s.names, nil
}

func (s *layoutReferrers) tags(ctx context.Context) ([]string, error) {
	names, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for n := range names {
		out = append(out, n)
	}
	// A subject with unnamed referrers is looked up as if its tag-schema
	// index were there.
	for subject := range s.bySubject {
		out = append(out, registry.ReferrersTag(subject))
	}
	return out, nil
}

func (s *layoutReferrers) referrersAPI(context.Context, digest.Digest) ([]imgspecv1.Descriptor, error) {
	return nil, registry.ErrNoReferrersAPI
}

func (s *layoutReferrers) referrersByTag(ctx context.Context, subject digest.Digest) ([]imgspecv1.Descriptor, error) {
	names, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	var idx imgspecv1.Index
	if _, ok := names[registry.ReferrersTag(subject)]; ok {
		raw, _, err := s.manifestByTag(ctx, registry.ReferrersTag(subject))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("%s: referrers index %s: %w", s.loc, registry.ReferrersTag(subject), err)
		}
	}
	for _, d := range s.bySubject[subject] {
		if !slices.ContainsFunc(idx.Manifests, func(m imgspecv1.Descriptor) bool { return m.Digest == d.Digest }) {
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	return idx.Manifests, nil
}

func (s *layoutReferrers) manifestByTag(ctx context.Context, tag string) ([]byte, registry.Descriptor, error) {
	names, err := s.index(ctx)
	if err != nil {
		return nil, registry.Descriptor{}, err
	}
	d, ok := names[tag]
	if !ok {
		return nil, registry.Descriptor{}, fmt.Errorf("%s: no manifest named %q: %w", s.loc, tag, registry.ErrNotFound)
	}
	var raw []byte
	if s.dst != nil {
		raw, err = os.ReadFile(filepath.Join(s.dst.layoutDir(), imgspecv1.ImageBlobsDir, d.Digest.Algorithm().String(), d.Digest.Encoded()))
	} else {
		raw, _, err = s.src.manifest(ctx, d.Digest)
	}
	if err != nil {
		return nil, registry.Descriptor{}, err
	}
	if err := checkManifest(s.loc.String(), Manifest{Digest: d.Digest, Size: d.Size, Raw: raw}); err != nil {
		return nil, registry.Descriptor{}, err
	}
	return raw, registry.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, nil
}

// put writes m and what it refers to through the destination, one at a
// time (a layout's writes are few and small here).
func (s *layoutReferrers) put(ctx context.Context, e *engine, m Manifest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putLocked(ctx, e, m, 0)
}

func (s *layoutReferrers) putLocked(ctx context.Context, e *engine, m Manifest, depth int) error {
	if depth > referrersDepth {
		return fmt.Errorf("manifest %s: lists nested too deep", m.Digest)
	}
	if n := s.read[m.Digest]; m.Raw == nil && n != nil && n.Raw != nil {
		m.Raw = n.Raw
		if m.MediaType == "" {
			m.MediaType = n.MediaType
		}
	}
	if m.Raw == nil {
		raw, mt, err := e.src.manifest(ctx, m.Digest)
		if err != nil {
			return err
		}
		m.Raw = raw
		if m.MediaType == "" {
			m.MediaType = mt
		}
	}
	if err := checkManifest(e.src.String(), m); err != nil {
		return err
	}
	p, err := manifestlist.Parse(m.Raw, m.MediaType)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", e.src, m.Digest, err)
	}
	if m.MediaType == "" {
		m.MediaType = p.MediaType
	}
	if p.Kind == manifestlist.KindList {
		for _, d := range p.List.Manifests {
			if err := s.putLocked(ctx, e, Manifest{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}, depth+1); err != nil {
				return err
			}
		}
	}
	for i, b := range p.Blobs {
		if err := s.dst.putBlob(ctx, e, neededBlob{Descriptor: wireDescriptor(b), config: i == 0 && p.Config != nil}); err != nil {
			return err
		}
	}
	if err := s.dst.putManifest(ctx, m.Raw, m.MediaType, m.Digest, "", false); err != nil {
		return err
	}
	if m.Tag != "" {
		s.dst.nameLater(m.Tag, m.Raw, m.MediaType)
	}
	return nil
}

// addReferrersByTag writes the index of subject's referrers, with what the
// layout's index at that tag already lists.
func (s *layoutReferrers) addReferrersByTag(ctx context.Context, subject digest.Digest, descs []imgspecv1.Descriptor) error {
	tag := registry.ReferrersTag(subject)
	idx := imgspecv1.Index{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}
	if have, err := s.referrersByTag(ctx, subject); err != nil {
		return err
	} else {
		idx.Manifests = have
	}
	listed := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		listed[d.Digest] = true
	}
	added := false
	for _, d := range descs {
		if !listed[d.Digest] {
			listed[d.Digest], added = true, true
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	if !added {
		return nil
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dst.putManifest(ctx, raw, imgspecv1.MediaTypeImageIndex, digest.FromBytes(raw), "", false); err != nil {
		return err
	}
	s.dst.nameLater(tag, raw, imgspecv1.MediaTypeImageIndex)
	return nil
}

// layoutWriter is a destination that writes an OCI layout (an
// oci-archive's too), where manifests can be named in index.json.
type layoutWriter interface {
	destination
	// layoutDir is the layout's directory (an oci-archive's temporary one).
	layoutDir() string
	// nameLater names raw, already written by digest, in index.json once
	// the copy's own manifest is committed.
	nameLater(name string, raw []byte, mediaType string)
}

// readLocalIndex reads index.json of an oci: layout or an oci-archive:
// (through the one tar reader, its other files skipped); none is an empty
// index.
func readLocalIndex(loc Location) (*imgspecv1.Index, error) {
	// The transports split PATH:IMAGE at the first colon; so does this.
	p, _, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	switch loc.Transport() {
	case "oci":
		idx, err := readLayoutIndex(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", loc, err)
		}
		return idx, nil
	case "oci-archive":
		a, err := openTarArchive(loc.String(), p)
		if errors.Is(err, fs.ErrNotExist) {
			return &imgspecv1.Index{}, nil
		}
		if err != nil {
			return nil, err
		}
		defer a.close()
		if _, ok := a.lookup(imgspecv1.ImageIndexFile); !ok {
			return &imgspecv1.Index{}, nil
		}
		raw, err := a.readAll(imgspecv1.ImageIndexFile, -1, 16<<20)
		if err != nil {
			return nil, err
		}
		var idx imgspecv1.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("%s: index.json: %w", loc, err)
		}
		return &idx, nil
	}
	return nil, fmt.Errorf("%s holds no referrers: only oci: and oci-archive: layouts do", loc)
}

// tarLayout writes the layout dir as the tar file, as containers/image
// writes an oci-archive: every directory and regular file, owned by root.
func tarLayout(dir, file string) (err error) {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsDir() && !fi.Mode().IsRegular() {
			return nil
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), 0, 0, "", ""
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Every destination that writes a layout names referrers in it.
var (
	_ layoutWriter = (*layoutDestination)(nil)
	_ layoutWriter = (*archiveDestination)(nil)
)
