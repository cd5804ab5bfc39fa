package copy

import (
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// checkManifest holds a manifest's bytes to the descriptor that named it.
func checkManifest(src string, m Manifest) error {
	if m.Size > 0 && int64(len(m.Raw)) != m.Size {
		return &CorruptError{Kind: "manifest", Digest: m.Digest, Source: src, Size: m.Size, GotSize: int64(len(m.Raw))}
	}
	if m.Digest != "" {
		v := newVerifier("manifest", src, m.Digest, int64(len(m.Raw)))
		_ = v.write(m.Raw)
		return v.check()
	}
	return nil
}

// ErrCorrupt is what a blob or manifest whose bytes do not match their
// descriptor (digest or size) fails with; it is never retried.
var ErrCorrupt = errors.New("content does not match its descriptor")

// CorruptError names a blob or manifest whose bytes do not match its
// descriptor, and where it was read.
type CorruptError struct {
	Kind   string // "blob", "manifest"
	Digest digest.Digest
	Source string
	// Got is the digest of the bytes read, or "" when their size was wrong.
	Got digest.Digest
	// Size is what the descriptor says; GotSize what the source served.
	Size, GotSize int64
}

// Error names the content, where it came from and what did not match.
func (e *CorruptError) Error() string {
	if e.Got != "" {
		return fmt.Sprintf("%s %s from %s is corrupt: the bytes served have digest %s", e.Kind, e.Digest, e.Source, e.Got)
	}
	return fmt.Sprintf("%s %s from %s does not match its descriptor: %d bytes where the descriptor says %d", e.Kind, e.Digest, e.Source, e.GotSize, e.Size)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// verifier hashes and counts what passes through it and reports content
// that does not match its descriptor: more bytes than the descriptor says
// as soon as they come, fewer or a wrong digest at the end.
type verifier struct {
	kind, source string
	want         digest.Digest
	size         int64
	n            int64
	h            digest.Digester
}

func newVerifier(kind, source string, want digest.Digest, size int64) *verifier {
	alg := want.Algorithm()
	if !alg.Available() {
		alg = digest.Canonical
	}
	return &verifier{kind: kind, source: source, want: want, size: size, h: alg.Digester()}
}

func (v *verifier) write(p []byte) error {
	v.n += int64(len(p))
	v.h.Hash().Write(p)
	if v.size >= 0 && v.n > v.size {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Size: v.size, GotSize: v.n}
	}
	return nil
}

// check is called at the end of the content.
func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Size: v.size, GotSize: v.n}
	}
	if got := v.h.Digest(); got != v.want {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Got: got}
	}
	return nil
}

// verifyingReader passes r on and fails, instead of ending, when the
// content does not match the descriptor: a destination reading it never
// sees the end of a corrupt blob, so never commits it.
type verifyingReader struct {
	r   io.Reader
	v   *verifier
	err error // the mismatch found, if any
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if r.err = r.v.write(p[:n]); r.err != nil {
			return 0, r.err
		}
	}
	if err == io.EOF {
		if r.err = r.v.check(); r.err != nil {
			return n, r.err
		}
	}
	return n, err
}
