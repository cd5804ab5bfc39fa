package copy

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
)

// blobReader reads one blob from a source for a destination: it counts
// progress, and fails rather than ends when the bytes do not match the
// descriptor. It opens the source once: reading on after a cut body is the
// source's own (a registry's blob body, within its client's retry policy).
type blobReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	src    source
	b      registry.Descriptor
	stats  *Stats

	mu   sync.Mutex
	body io.ReadCloser
	v    *verifier // set by the maker
	err  error     // why reading failed, kept for every later Read
	done bool      // the whole blob was read and verified
	read func()    // called when done, if set
}

func (r *blobReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if r.v.n == r.b.Size {
		if err := r.finish(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if r.body == nil {
		if err := r.open(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if rest := r.b.Size - r.v.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.body.Read(p)
	if n > 0 {
		_ = r.v.write(p[:n]) // cannot overflow: p is cut to what is left
		r.stats.add(func(s *Stats) {
			s.BytesUploaded += int64(n)
			if b := s.active[r.b.Digest]; b != nil {
				b.Done += int64(n)
			}
		})
	}
	switch {
	case err == nil || (err == io.EOF && n > 0):
		return n, nil
	case err == io.EOF:
		// Ended before the descriptor's size.
		r.err = r.v.check()
	default:
		r.err = fmt.Errorf("read blob %s from %s: %w", r.b.Digest, r.src, err)
	}
	return n, r.err
}

// copyBuffer is the piece WriteTo moves at once.
const copyBuffer = 256 << 10

// WriteTo hands an upload the blob in pieces of up to copyBuffer: the HTTP
// transport would otherwise copy it 32 KiB at a time, with a system call,
// a lock and a progress update for each.
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// start opens the source, before the upload that reads it.
func (r *blobReader) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.v.n == r.b.Size {
		return nil // nothing to read: an empty blob
	}
	if err := r.open(); err != nil {
		r.err = err
		return err
	}
	return nil
}

// open opens the source.
func (r *blobReader) open() error {
	body, total, err := r.src.openBlob(r.ctx, r.b)
	if err != nil {
		return fmt.Errorf("read blob %s from %s: %w", r.b.Digest, r.src, err)
	}
	if total >= 0 && total != r.b.Size {
		body.Close()
		return &CorruptError{Kind: "blob", Digest: r.b.Digest, Source: r.src.String(), Size: r.b.Size, GotSize: total}
	}
	r.body = body
	return nil
}

func (r *blobReader) finish() error {
	if r.done {
		return nil
	}
	if err := r.v.check(); err != nil {
		r.err = err
		return err
	}
	r.done = true
	if r.read != nil {
		r.read()
	}
	return nil
}

// verify is called once the upload succeeded: the transport may not have
// read the end of the body yet.
func (r *blobReader) verify() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.v.n != r.b.Size {
		return fmt.Errorf("upload of blob %s ended before it was read whole", r.b.Digest)
	}
	return r.finish()
}

// failure is why reading the source failed, if it did.
func (r *blobReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// newBlobReader reads b from src until close. The upload may give up while
// its transport still reads the source: close cancels the read, which lets
// the reader go.
func newBlobReader(ctx context.Context, src source, b registry.Descriptor, stats *Stats) *blobReader {
	ctx, cancel := context.WithCancel(ctx)
	return &blobReader{ctx: ctx, cancel: cancel, src: src, b: b, stats: stats, v: newVerifier("blob", src.String(), b.Digest, b.Size)}
}

func (r *blobReader) close() {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}
