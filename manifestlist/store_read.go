package manifestlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// unreadableError is find's error for a draft that is the one asked for (or
// may be) but cannot be read: it can only be removed.
type unreadableError struct{ err error }

func (u unreadableError) Error() string { return u.err.Error() }
func (u unreadableError) Unwrap() error { return u.err }

// mayExist reports whether anything of a draft called name is on disk, so
// that looking up a missing draft takes no lock and writes nothing. A write
// in progress has its journal directory, so it counts.
func (s *Store) mayExist(name string) bool {
	for _, sl := range []slot{s.primary(escape(name)), s.alternate(name)} {
		for _, p := range []string{sl.dir, sl.newDir(), sl.oldDir(), sl.goneDir()} {
			if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
				return true
			}
		}
	}
	return false
}

func notFound(name string) error {
	return wrapSentinel(ErrNotFound, fmt.Sprintf("no draft manifest list %s", name))
}

// find returns where the draft called name lives (or would live if it were
// saved now) and the draft, nil if there is none. It must run under the
// draft's lock.
func (s *Store) find(name string) (slot, *Draft, error) {
	p, a := s.primary(escape(name)), s.alternate(name)
	for _, sl := range []slot{p, a} {
		if err := recoverSlot(sl); err != nil {
			return slot{}, nil, fmt.Errorf("draft %s: %w", name, err)
		}
	}
	pOwner, pDraft, pErr := s.load(p)
	if pOwner == name {
		if pErr != nil {
			return p, nil, unreadableError{pErr}
		}
		return p, pDraft, nil
	}
	aOwner, aDraft, aErr := s.load(a)
	switch {
	case aOwner == name:
		if aErr != nil {
			return a, nil, unreadableError{aErr}
		}
		return a, aDraft, nil
	case errors.Is(aErr, fs.ErrNotExist):
	case aErr != nil:
		return slot{}, nil, aErr
	case aOwner == "":
		// The directory's name holds a hash of name, so it is name's,
		// but it lost its state file.
		return a, nil, unreadableError{fmt.Errorf("draft %s: its state file %s is missing", name, a.sidecar)}
	default:
		return slot{}, nil, fmt.Errorf("draft %s: %s holds draft %q", name, a.dir, aOwner)
	}
	switch {
	case errors.Is(pErr, fs.ErrNotExist):
		return p, nil, nil
	case pOwner != "":
		// docker/cli's directory holds another name's draft.
		return a, nil, nil
	case pErr != nil:
		// Whose draft it is cannot be told; like docker, only its
		// removal is allowed.
		return p, nil, unreadableError{pErr}
	}
	// A draft `docker manifest` made records no name; it belongs to every
	// name that escapes to its directory, as it does for docker.
	pDraft.Name = name
	return p, pDraft, nil
}

// load reads the draft in sl. owner is the name its sidecar records, or ""
// when it has none (a `docker manifest` draft); it is set even when the
// entries cannot be read. The error wraps fs.ErrNotExist when the list
// directory does not exist.
func (s *Store) load(sl slot) (owner string, d *Draft, err error) {
	files, err := os.ReadDir(sl.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("read draft directory %s: %w", sl.dir, err)
	}
	var names []string
	for _, f := range files {
		if !f.IsDir() {
			names = append(names, f.Name())
		}
	}
	sort.Strings(names)
	d = &Draft{}
	sc, err := readSidecar(sl.sidecar)
	if err != nil {
		return "", nil, err
	}
	if sc != nil && sc.Name != "" {
		if normalizeRef(sc.Name) != sc.Name {
			return "", nil, fmt.Errorf("invalid draft state file %s: name %q is not a normalized reference", sl.sidecar, sc.Name)
		}
		if sl != s.primary(escape(sc.Name)) && sl != s.alternate(sc.Name) {
			return "", nil, fmt.Errorf("invalid draft state file %s: it names %q, which is not stored there", sl.sidecar, sc.Name)
		}
	}
	// A sidecar none of whose files exist is left over from a draft that
	// `docker manifest rm` removed; the directory is a new draft.
	// An empty list directory is the sidecar's when the sidecar lists no
	// files either.
	if sc != nil && sc.Name != "" && (slices.ContainsFunc(sc.Files, func(f string) bool { return slices.Contains(names, f) }) ||
		len(sc.Files) == 0 && len(names) == 0) {
		owner = sc.Name
		d.Name, d.MediaType, d.Annotations, d.Origin = sc.Name, sc.MediaType, sc.Annotations, sc.Origin
		names = orderBy(names, sc.Files)
	}
	for _, n := range names {
		e, err := readEntryFile(filepath.Join(sl.dir, n))
		if err != nil {
			return owner, nil, err
		}
		if owner != "" {
			e.Config = sc.Configs[e.Descriptor.Digest.String()]
		}
		d.Entries = append(d.Entries, e)
	}
	d.Docker = owner == ""
	return owner, d, nil
}

func readSidecar(path string) (*sidecar, error) {
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
