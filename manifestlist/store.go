package manifestlist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
//
// docker/cli's directory names are lossy (":" and "/" both become
// separators), so two list names can share one. The sidecar records the
// real name, and the store never hands out, overwrites, pushes or removes a
// draft recorded under another name: the first name to claim a directory
// keeps the one `docker manifest` also uses, a second name that escapes
// alike lives in a directory of its own under configDir/mlist/drafts,
// which `docker manifest` cannot see.
//
// Every operation on a draft holds a file lock named after its escaped name,
// so concurrent commands on one draft run one after the other, and writes go
// through a small journal (see write and recover) so that a process killed
// at any point leaves the draft as it was before or after.
type Store struct {
	root     string // configDir/manifests, shared with docker manifest
	sidecars string // configDir/mlist/drafts
	locks    string // configDir/mlist/locks
}

// NewStore returns a store rooted at a Docker config directory (the
// directory of config.json).
func NewStore(configDir string) *Store {
	return &Store{
		root:     filepath.Join(configDir, "manifests"),
		sidecars: filepath.Join(configDir, "mlist", "drafts"),
		locks:    filepath.Join(configDir, "mlist", "locks"),
	}
}

// escape is docker/cli's makeFilesafeName; it is lossy, so two references
// may share a name.
func escape(ref string) string {
	return strings.ReplaceAll(strings.ReplaceAll(ref, ":", "-"), "/", "_")
}

// altSeparator joins an escaped name and a hash in the directory name of a
// draft whose docker/cli directory belongs to another name. References
// cannot contain it, so no docker/cli directory name has it.
const altSeparator = "~"

// slot is where one draft lives: its list directory and its sidecar.
type slot struct {
	dir, sidecar string
}

// primary is docker/cli's place for names that escape to esc.
func (s *Store) primary(esc string) slot {
	return slot{dir: filepath.Join(s.root, esc), sidecar: filepath.Join(s.sidecars, esc+".json")}
}

// alternate is the place of a name whose docker/cli directory is taken by
// another name.
func (s *Store) alternate(name string) slot {
	sum := sha256.Sum256([]byte(name))
	key := escape(name) + altSeparator + hex.EncodeToString(sum[:8])
	return slot{dir: filepath.Join(s.sidecars, key), sidecar: filepath.Join(s.sidecars, key+".json")}
}

// Journal names, next to the list directory and the sidecar.
func (sl slot) newDir() string  { return hiddenSibling(sl.dir, ".new") }
func (sl slot) oldDir() string  { return hiddenSibling(sl.dir, ".old") }
func (sl slot) goneDir() string { return hiddenSibling(sl.dir, ".gone") }
func (sl slot) next() string    { return sl.sidecar + ".next" }

func hiddenSibling(path, suffix string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+suffix)
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
	// Origin is the raw list a draft was started from (create --from).
	Origin []byte `json:",omitempty"`
	// Configs are the platforms image configs declare (Entry.Config), by
	// entry digest.
	Configs map[string]*imgspecv1.Platform `json:",omitempty"`
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
		desc = imgspecv1.Descriptor{MediaType: MediaTypeOf(raw, ""), Digest: f.Digest, Size: int64(len(raw))}
		if p := f.Platform; p != nil {
			desc.Platform = &imgspecv1.Platform{
				Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant,
			}
		}
	}
	if err := CheckDigest(desc.Digest); err != nil {
		return Entry{}, fmt.Errorf("invalid draft file %s: descriptor %w", path, err)
	}
	if ok, err := manifest.MatchesDigest(raw, desc.Digest); err != nil || !ok {
		return Entry{}, fmt.Errorf("invalid draft file %s: manifest digest %s does not match descriptor digest %s", path, digest.FromBytes(raw), desc.Digest)
	}
	return Entry{Source: f.Ref, Descriptor: desc, Raw: raw}, nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return WriteFileAtomic(path, b, 0o600)
}

// encodeEntry returns the file name and content docker/cli would use.
func encodeEntry(e Entry) (string, []byte, error) {
	// docker/cli reads Ref with reference.ParseNamed, which accepts only
	// fully qualified names; anything else would break `docker manifest`.
	if _, err := reference.ParseNamed(e.Source); err != nil {
		return "", nil, fmt.Errorf("entry source %q is not a normalized reference (e.g. docker.io/library/app:1.0): %w", e.Source, err)
	}
	if err := CheckDigest(e.Descriptor.Digest); err != nil {
		return "", nil, fmt.Errorf("entry %s: %w", e.Source, err)
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
