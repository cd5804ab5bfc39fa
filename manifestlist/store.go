package manifestlist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// Store keeps drafts on disk in the layout of docker/cli's manifest store,
// so `docker manifest inspect|push` can read what docker-mlist writes and
// the other way round. State docker/cli has no place for (list name, list
// type, index annotations, entry order) lives in a sidecar file outside the
// list directory, because docker parses every file inside it.
type Store struct {
	root     string // configDir/manifests, shared with docker manifest
	sidecars string // configDir/mlist/drafts
}

// NewStore returns a store rooted at a Docker config directory (the
// directory of config.json).
func NewStore(configDir string) *Store {
	return &Store{
		root:     filepath.Join(configDir, "manifests"),
		sidecars: filepath.Join(configDir, "mlist", "drafts"),
	}
}

// escape is docker/cli's makeFilesafeName; it is lossy, so two references
// may share a name, which Save refuses.
func escape(ref string) string {
	return strings.ReplaceAll(strings.ReplaceAll(ref, ":", "-"), "/", "_")
}

// entryFile has the JSON shape of docker/cli's types.ImageManifest.
// SchemaV2Manifest/OCIManifest repeat the raw manifest because
// `docker manifest push` takes the payload from them, not from Raw.
type entryFile struct {
	Ref              string
	Descriptor       imgspecv1.Descriptor
	Raw              []byte          `json:",omitempty"`
	SchemaV2Manifest json.RawMessage `json:",omitempty"`
	OCIManifest      json.RawMessage `json:",omitempty"`
}

// legacyEntryFile adds the top-level fields of drafts written by old docker
// versions, which docker/cli still upgrades on read.
type legacyEntryFile struct {
	entryFile
	Digest   digest.Digest
	Platform *struct {
		Architecture string   `json:"architecture"`
		OS           string   `json:"os"`
		OSVersion    string   `json:"os.version,omitempty"`
		OSFeatures   []string `json:"os.features,omitempty"`
		Variant      string   `json:"variant,omitempty"`
	}
}

// sidecar is docker-mlist's own state for one draft.
type sidecar struct {
	Name        string
	MediaType   string            `json:",omitempty"`
	Annotations map[string]string `json:",omitempty"`
	// Files is the entry order, as file names in the list directory.
	Files []string
}

func (s *Store) listDir(escName string) string { return filepath.Join(s.root, escName) }
func (s *Store) sidecarPath(escName string) string {
	return filepath.Join(s.sidecars, escName+".json")
}

// Get reads the draft called name. The error wraps ErrNotFound when there is
// no such draft.
func (s *Store) Get(name string) (*Draft, error) {
	return s.load(escape(name), name)
}

func (s *Store) load(escName, fallbackName string) (*Draft, error) {
	dir := s.listDir(escName)
	files, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wrapSentinel(ErrNotFound, fmt.Sprintf("no draft manifest list %s", fallbackName))
	}
	if err != nil {
		return nil, fmt.Errorf("read draft %s: %w", fallbackName, err)
	}
	var names []string
	for _, f := range files {
		if !f.IsDir() {
			names = append(names, f.Name())
		}
	}
	sort.Strings(names)

	d := &Draft{Name: fallbackName}
	sc, err := s.readSidecar(escName)
	if err != nil {
		return nil, err
	}
	// A sidecar none of whose files exist is left over from a draft that
	// `docker manifest rm` removed; the directory is a new draft.
	if sc != nil && slices.ContainsFunc(sc.Files, func(f string) bool { return slices.Contains(names, f) }) {
		d.Name, d.MediaType, d.Annotations = sc.Name, sc.MediaType, sc.Annotations
		names = orderBy(names, sc.Files)
	}
	for _, n := range names {
		e, err := readEntryFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		d.Entries = append(d.Entries, e)
	}
	return d, nil
}

// orderBy puts names listed in order first, in that order, and the rest
// (entries `docker manifest create --amend` added) after them by name.
func orderBy(names, order []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range order {
		if slices.Contains(names, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (s *Store) readSidecar(escName string) (*sidecar, error) {
	path := s.sidecarPath(escName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("invalid draft state file %s: %w", path, err)
	}
	return &sc, nil
}

func readEntryFile(path string) (Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Entry{}, err
	}
	var f legacyEntryFile
	if err := json.Unmarshal(b, &f); err != nil {
		return Entry{}, fmt.Errorf("invalid draft file %s: %w", path, err)
	}
	raw := f.Raw
	for _, m := range []json.RawMessage{f.SchemaV2Manifest, f.OCIManifest} {
		if len(raw) == 0 && len(m) > 0 && !bytes.Equal(m, []byte("null")) {
			raw = m
		}
	}
	if len(raw) == 0 {
		return Entry{}, fmt.Errorf("invalid draft file %s: it holds no manifest (Raw, SchemaV2Manifest or OCIManifest)", path)
	}
	desc := f.Descriptor
	if f.Digest != "" {
		desc = imgspecv1.Descriptor{MediaType: manifest.GuessMIMEType(raw), Digest: f.Digest, Size: int64(len(raw))}
		if p := f.Platform; p != nil {
			desc.Platform = &imgspecv1.Platform{
				Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant,
			}
		}
	}
	if err := desc.Digest.Validate(); err != nil {
		return Entry{}, fmt.Errorf("invalid draft file %s: descriptor digest %q: %w", path, desc.Digest, err)
	}
	if ok, err := manifest.MatchesDigest(raw, desc.Digest); err != nil || !ok {
		return Entry{}, fmt.Errorf("invalid draft file %s: manifest digest %s does not match descriptor digest %s", path, digest.FromBytes(raw), desc.Digest)
	}
	return Entry{Source: f.Ref, Descriptor: desc, Raw: raw}, nil
}

// Save writes the draft, replacing any previous version. Readers see the old
// or the new list directory, never a mix: the new one is written under a
// hidden temporary name and renamed into place.
func (s *Store) Save(d *Draft) error {
	if d.Name == "" {
		return fmt.Errorf("draft has no name")
	}
	escName := escape(d.Name)
	files := map[string][]byte{}
	sc := sidecar{Name: d.Name, MediaType: d.MediaType, Annotations: d.Annotations}
	owner := map[string]string{}
	for _, e := range d.Entries {
		fn, b, err := encodeEntry(e)
		if err != nil {
			return fmt.Errorf("save draft %s: %w", d.Name, err)
		}
		if prev, ok := owner[fn]; ok {
			return fmt.Errorf("save draft %s: entries %s and %s would share the file name %s", d.Name, prev, e.Source, fn)
		}
		owner[fn] = e.Source
		files[fn] = b
		sc.Files = append(sc.Files, fn)
	}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.root, "."+escName+".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op once renamed into place
	for _, fn := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(tmp, fn), files[fn], 0o600); err != nil {
			return fmt.Errorf("save draft %s: %w", d.Name, err)
		}
	}
	if err := s.swapDir(tmp, s.listDir(escName)); err != nil {
		return fmt.Errorf("save draft %s: %w", d.Name, err)
	}
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.sidecarPath(escName), b); err != nil {
		return fmt.Errorf("save draft %s: %w", d.Name, err)
	}
	return nil
}

// swapDir replaces dst by src. A directory cannot be renamed over a
// non-empty one, so the old directory is first moved aside and restored if
// the second rename fails.
func (s *Store) swapDir(src, dst string) error {
	old, err := os.MkdirTemp(s.root, ".old-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(old)
	aside := filepath.Join(old, "d")
	moved := true
	if err := os.Rename(dst, aside); errors.Is(err, fs.ErrNotExist) {
		moved = false
	} else if err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		if moved {
			_ = os.Rename(aside, dst)
		}
		return err
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// encodeEntry returns the file name and content docker/cli would use.
func encodeEntry(e Entry) (string, []byte, error) {
	// docker/cli reads Ref with reference.ParseNamed, which accepts only
	// fully qualified names; anything else would break `docker manifest`.
	if _, err := reference.ParseNamed(e.Source); err != nil {
		return "", nil, fmt.Errorf("entry source %q is not a normalized reference (e.g. docker.io/library/app:1.0): %w", e.Source, err)
	}
	if ok, err := manifest.MatchesDigest(e.Raw, e.Descriptor.Digest); err != nil || !ok {
		return "", nil, fmt.Errorf("entry %s: manifest bytes do not match digest %s", e.Source, e.Descriptor.Digest)
	}
	f := entryFile{Ref: e.Source, Descriptor: e.Descriptor, Raw: e.Raw}
	switch e.Descriptor.MediaType {
	case manifest.DockerV2Schema2MediaType:
		f.SchemaV2Manifest = e.Raw
	case imgspecv1.MediaTypeImageManifest:
		f.OCIManifest = e.Raw
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", nil, fmt.Errorf("entry %s: %w", e.Source, err)
	}
	return escape(e.Source), b, nil
}

// Remove deletes the draft called name and its sidecar. The error wraps
// ErrNotFound when there is no such draft.
func (s *Store) Remove(name string) error {
	escName := escape(name)
	dir := s.listDir(escName)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(s.sidecarPath(escName))
		return wrapSentinel(ErrNotFound, fmt.Sprintf("no draft manifest list %s", name))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove draft %s: %w", name, err)
	}
	if err := os.Remove(s.sidecarPath(escName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove draft %s: %w", name, err)
	}
	return nil
}

// List reads every draft, sorted by name. Drafts made by `docker manifest`
// have no sidecar, and their name is the escaped directory name, since the
// escaping cannot be undone.
func (s *Store) List() ([]*Draft, error) {
	dirs, err := os.ReadDir(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Draft
	for _, de := range dirs {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		d, err := s.load(de.Name(), de.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
