package manifestlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Get reads the draft called name. The error wraps ErrNotFound when there is
// no such draft.
func (s *Store) Get(name string) (*Draft, error) {
	if !s.mayExist(name) {
		return nil, notFound(name)
	}
	var out *Draft
	err := s.locked(name, func() error {
		_, d, err := s.find(name)
		if err != nil {
			return err
		}
		if d == nil {
			return notFound(name)
		}
		out = d
		return nil
	})
	return out, err
}

// Save writes the draft, replacing any previous version of the draft of
// that name (and no other).
func (s *Store) Save(d *Draft) error {
	if d.Name == "" {
		return fmt.Errorf("draft has no name")
	}
	return s.locked(d.Name, func() error {
		sl, _, err := s.find(d.Name)
		if err != nil {
			return err
		}
		return s.write(sl, d)
	})
}

// Edit reads the draft called name, lets fn change it and saves the result,
// holding the draft's lock throughout, so that concurrent edits of one draft
// each see the one before. fn gets an empty draft of that name and
// found=false when there is none yet; when fn returns an error nothing is
// written.
func (s *Store) Edit(name string, fn func(d *Draft, found bool) error) error {
	return s.locked(name, func() error {
		sl, d, err := s.find(name)
		if err != nil {
			return err
		}
		found := d != nil
		if !found {
			d = &Draft{Name: name}
		}
		// Saved with a state file, the draft is docker-mlist's from now on:
		// fn sees the list type it will have.
		d.Docker = false
		if err := fn(d, found); err != nil {
			return err
		}
		if d.Name != name {
			return fmt.Errorf("save draft %s: the edit renamed it to %s", name, d.Name)
		}
		return s.write(sl, d)
	})
}

// Update is Edit for a draft that must exist: the error wraps ErrNotFound,
// and fn is not called, when there is none.
func (s *Store) Update(name string, fn func(d *Draft) error) error {
	return s.Edit(name, func(d *Draft, found bool) error {
		if !found {
			return notFound(name)
		}
		return fn(d)
	})
}

// Remove deletes the draft called name and its sidecar, even when it cannot
// be read. The error wraps ErrNotFound when there is no such draft.
func (s *Store) Remove(name string) error {
	if !s.mayExist(name) {
		return notFound(name)
	}
	return s.locked(name, func() error {
		sl, d, err := s.find(name)
		if errors.As(err, new(unreadableError)) {
			return s.remove(sl, name)
		}
		if err != nil {
			return err
		}
		if d == nil {
			return notFound(name)
		}
		return s.remove(sl, name)
	})
}

// RemoveUnchanged deletes the draft d.Name if it still holds exactly d, as
// `push --purge` needs: an edit made while d was being pushed is kept, and
// the error says so.
func (s *Store) RemoveUnchanged(d *Draft) error {
	return s.locked(d.Name, func() error {
		sl, cur, err := s.find(d.Name)
		if err != nil {
			return err
		}
		if cur == nil {
			return notFound(d.Name)
		}
		if !reflect.DeepEqual(cur, d) {
			return fmt.Errorf("draft %s changed while it was pushed; kept it", d.Name)
		}
		return s.remove(sl, d.Name)
	})
}

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

// write saves d in sl. The commit point is the rename of the new list
// directory into place; the new sidecar is written beside the old one
// before it and renamed over it after it, so recoverSlot can always tell
// which of the two states a killed write leaves, and finish or undo it:
//
//  1. write the entries to .DIR.new and the sidecar to SIDECAR.next;
//  2. move DIR to .DIR.old;
//  3. move .DIR.new to DIR (commit);
//  4. move SIDECAR.next to SIDECAR, and remove .DIR.old.
func (s *Store) write(sl slot, d *Draft) error {
	files := map[string][]byte{}
	sc := sidecar{Name: d.Name, MediaType: d.MediaType, Annotations: d.Annotations, Origin: d.Origin}
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
		if e.Config != nil {
			if sc.Configs == nil {
				sc.Configs = map[string]*imgspecv1.Platform{}
			}
			sc.Configs[e.Descriptor.Digest.String()] = e.Config
		}
	}
	scb, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if err := s.writeSteps(sl, files, scb); err != nil {
		return fmt.Errorf("save draft %s: %w", d.Name, err)
	}
	return nil
}

func (s *Store) writeSteps(sl slot, files map[string][]byte, scb []byte) error {
	if err := os.MkdirAll(filepath.Dir(sl.dir), 0o700); err != nil {
		return err
	}
	tmp := sl.newDir()
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	undo := func() {
		_ = os.Remove(sl.next())
		_ = os.RemoveAll(tmp)
	}
	for _, fn := range slices.Sorted(maps.Keys(files)) {
		if err := writeFile(filepath.Join(tmp, fn), files[fn]); err != nil {
			undo()
			return err
		}
		if killedAt("file") {
			return errKilled
		}
	}
	if err := writeFileAtomic(sl.next(), scb); err != nil {
		undo()
		return err
	}
	if killedAt("next") {
		return errKilled
	}
	moved := true
	if err := os.Rename(sl.dir, sl.oldDir()); errors.Is(err, fs.ErrNotExist) {
		moved = false
	} else if err != nil {
		undo()
		return err
	}
	if killedAt("aside") {
		return errKilled
	}
	if err := os.Rename(tmp, sl.dir); err != nil {
		if moved {
			_ = os.Rename(sl.oldDir(), sl.dir)
		}
		undo()
		return err
	}
	if killedAt("commit") {
		return errKilled
	}
	if err := os.Rename(sl.next(), sl.sidecar); err != nil {
		// The entries are committed; the next command's recoverSlot
		// finishes the sidecar.
		return err
	}
	if killedAt("sidecar") {
		return errKilled
	}
	return os.RemoveAll(sl.oldDir())
}

// killedAt lets tests stop a write or remove after a named step, leaving the
// files as a killed process would; it never stops one outside tests.
var killedAt = func(step string) bool { return false }

var errKilled = errors.New("killed (test)")

// remove deletes the draft in sl; moving the list directory to .DIR.gone is
// the commit point.
func (s *Store) remove(sl slot, name string) error {
	if err := os.Rename(sl.dir, sl.goneDir()); err != nil {
		return fmt.Errorf("remove draft %s: %w", name, err)
	}
	if killedAt("gone") {
		return errKilled
	}
	if err := os.Remove(sl.sidecar); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove draft %s: %w", name, err)
	}
	if killedAt("unsidecar") {
		return errKilled
	}
	if err := os.RemoveAll(sl.goneDir()); err != nil {
		return fmt.Errorf("remove draft %s: %w", name, err)
	}
	return nil
}

// recoverSlot finishes or undoes a write or remove that was killed part way
// (see write and remove). It must run under the draft's lock.
func recoverSlot(sl slot) error {
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	var errs []error
	if exists(sl.goneDir()) {
		errs = append(errs, removeIfExists(sl.sidecar), removeIfExists(sl.next()), os.RemoveAll(sl.goneDir()))
	}
	switch {
	case exists(sl.newDir()):
		// Killed before the commit: back to the old draft.
		errs = append(errs, os.RemoveAll(sl.newDir()), removeIfExists(sl.next()))
		if !exists(sl.dir) && exists(sl.oldDir()) {
			errs = append(errs, os.Rename(sl.oldDir(), sl.dir))
		}
	case exists(sl.next()):
		// Killed after the commit: finish it.
		errs = append(errs, os.Rename(sl.next(), sl.sidecar))
	}
	if exists(sl.oldDir()) {
		if exists(sl.dir) {
			errs = append(errs, os.RemoveAll(sl.oldDir()))
		} else {
			errs = append(errs, os.Rename(sl.oldDir(), sl.dir))
		}
	}
	// Temporary sidecar files of writeFileAtomic.
	for _, p := range []string{sl.sidecar, sl.next()} {
		left, _ := filepath.Glob(hiddenSibling(p, ".tmp-*"))
		for _, l := range left {
			errs = append(errs, os.Remove(l))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recover interrupted write of %s: %w", sl.dir, err)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// UnreadableDraft describes a draft List could not read.
type UnreadableDraft struct {
	// Name is the draft's name, or its directory name when the name is
	// unknown.
	Name string
	// Err says why it could not be read.
	Err error
}

// Error names the draft and why it could not be read.
func (u UnreadableDraft) Error() string {
	return fmt.Sprintf("draft %s is unreadable: %v", u.Name, u.Err)
}

// Unwrap returns why the draft could not be read.
func (u UnreadableDraft) Unwrap() error { return u.Err }

// List reads every draft, sorted by name, and reports separately each one
// it could not read; err is only for a store that cannot be listed at all.
// Drafts made by `docker manifest` have no sidecar: their name is the
// reference recoverName reads in the directory name, or the directory name
// itself when none can be read there.
func (s *Store) List() (drafts []*Draft, unreadable []UnreadableDraft, err error) {
	type found struct {
		esc string
		sl  slot
	}
	var slots []found
	seen := map[string]bool{}
	add := func(esc string, sl slot) {
		if !seen[sl.dir] {
			seen[sl.dir] = true
			slots = append(slots, found{esc, sl})
		}
	}
	for _, dir := range []string{s.root, s.sidecars} {
		des, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list drafts: %w", err)
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			base := de.Name()
			// A journal directory names a draft a killed command may have
			// left without its list directory.
			if j, ok := strings.CutPrefix(base, "."); ok {
				base = ""
				for _, suffix := range []string{".new", ".old", ".gone"} {
					if b, ok := strings.CutSuffix(j, suffix); ok {
						base = b
					}
				}
				if base == "" {
					continue
				}
			}
			esc, _, alt := strings.Cut(base, altSeparator)
			if alt != (dir == s.sidecars) {
				continue
			}
			sl := s.primary(esc)
			if alt {
				sl = slot{dir: filepath.Join(dir, base), sidecar: filepath.Join(dir, base+".json")}
			}
			add(esc, sl)
		}
	}
	for _, f := range slots {
		var (
			owner string
			d     *Draft
			lerr  error
		)
		err := s.lockedEsc(f.esc, func() error {
			if err := recoverSlot(f.sl); err != nil {
				return err
			}
			owner, d, lerr = s.load(f.sl)
			return nil
		})
		name := owner
		if name == "" && d != nil && f.sl == s.primary(f.esc) {
			name = recoverName(f.esc, d.Entries)
		}
		if name == "" {
			name = filepath.Base(f.sl.dir)
		}
		switch {
		case err != nil:
			unreadable = append(unreadable, UnreadableDraft{Name: name, Err: err})
		case errors.Is(lerr, fs.ErrNotExist):
			// Removed by a recovery or by another command meanwhile.
		case lerr != nil:
			unreadable = append(unreadable, UnreadableDraft{Name: name, Err: lerr})
		case owner == "" && f.sl != s.primary(f.esc):
			// Only docker's directories may lack the name.
			unreadable = append(unreadable, UnreadableDraft{Name: name, Err: fmt.Errorf("its state file %s is missing", f.sl.sidecar)})
		default:
			d.Name = name
			drafts = append(drafts, d)
		}
	}
	sort.Slice(drafts, func(i, j int) bool { return drafts[i].Name < drafts[j].Name })
	sort.Slice(unreadable, func(i, j int) bool { return unreadable[i].Name < unreadable[j].Name })
	return drafts, unreadable, nil
}
