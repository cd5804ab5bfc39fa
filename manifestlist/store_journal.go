package manifestlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

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
