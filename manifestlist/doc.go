// Package manifestlist models Docker manifest lists and OCI image indexes,
// the local drafts docker-mlist builds them from, and the rules for merging
// two lists.
//
// It is a library: it never imports the Docker CLI or cobra, so other Go
// programs can use it with plain values.
package manifestlist

import "errors"

// Sentinel errors that callers test with errors.Is; the returned errors carry
// a full one-line message and unwrap to one of these.
var (
	// ErrNotFound means a draft or an entry does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a draft already exists; callers that refuse to
	// overwrite a draft (create without --amend) return it.
	ErrExists = errors.New("already exists")
	// ErrNoMatch means a selector matched no entry of a draft.
	ErrNoMatch = errors.New("no match")
	// ErrAmbiguous means a selector matched more than one entry of a draft.
	ErrAmbiguous = errors.New("ambiguous")
)

// sentinelError keeps a readable message while still unwrapping to a
// sentinel, so messages need not start with the sentinel's text.
type sentinelError struct {
	msg      string
	sentinel error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.sentinel }

func wrapSentinel(sentinel error, msg string) error {
	return &sentinelError{msg: msg, sentinel: sentinel}
}
