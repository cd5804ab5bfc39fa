package manifestlist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// locked runs fn holding the lock of the drafts whose names escape like
// name. Names that escape alike share a lock because they compete for one
// directory; other drafts do not wait.
func (s *Store) locked(name string, fn func() error) error {
	return s.lockedEsc(escape(name), fn)
}

func (s *Store) lockedEsc(esc string, fn func() error) error {
	if err := os.MkdirAll(s.locks, 0o700); err != nil {
		return fmt.Errorf("lock draft %s: %w", esc, err)
	}
	// The lock file is never removed: removing it would let a waiting
	// process lock a file no newcomer can see.
	l := flock.New(filepath.Join(s.locks, esc+".lock"), flock.SetPermissions(0o600))
	if err := l.Lock(); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("lock draft %s: %w (is the Docker config directory writable?)", esc, err)
		}
		return fmt.Errorf("lock draft %s: %w", esc, err)
	}
	defer l.Unlock()
	return fn()
}
