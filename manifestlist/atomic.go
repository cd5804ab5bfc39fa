package manifestlist

import (
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with b, mode perm: written to a temporary
// file in the same directory, synced and renamed over path, so a reader
// sees the old content or the new, never a part of either. On failure (a
// full disk, say) path is untouched and the temporary file removed.
func WriteFileAtomic(path string, b []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	// Synced before the rename: after a crash the name holds the old
	// content or the whole new one, not an empty file.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
