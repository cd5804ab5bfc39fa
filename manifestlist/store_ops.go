package manifestlist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
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
