package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// blobBody is a blob's body that reads on where it was cut, as
// containers/image's bodyReader does: when the connection breaks part-way
// (reset, cut, stalled, or ended before its Content-Length), it asks again
// with Range from the byte reached. A 206 must start exactly there; a
// registry that ignores Range (200) sends the whole blob again, and the
// bytes already passed on are skipped. Tries that fail short of
// minProgress are bounded by the retry policy's attempts, with its waits
// where no byte came; a cut after bytes came is read on at once. What the
// bytes are is for the reader to verify: blobBody only moves them.
type blobBody struct {
	ctx    context.Context
	policy RetryPolicy // with defaults
	log    func(string, ...any)
	what   string // "blob HOST/REPO@DIGEST", in errors and the log
	// reopen sends one GET with header (Range), never retried itself.
	reopen func(ctx context.Context, header http.Header) (*http.Response, error)
	// refused is the error of an answer that is neither 200 nor 206.
	refused func(*http.Response) error

	body   io.ReadCloser
	size   int64 // the whole blob's, -1 when unknown
	off    int64 // bytes passed on
	opened int64 // off when the body in hand was opened
	fails  int   // tries in a row that failed short of minProgress
	cause  error // why the body in hand broke
	err    error // final: every later Read returns it
}

func (b *blobBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for {
		if b.body == nil {
			if err := b.resume(); err != nil {
				b.err = err
				return 0, err
			}
		}
		n, err := b.body.Read(p)
		b.off += int64(n)
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (b.size < 0 || b.off >= b.size):
			return n, io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF // ended before its Content-Length
		}
		b.body.Close()
		b.body = nil
		if _, ok := Retryable(err); !ok || b.ctx.Err() != nil {
			b.err = err
			return n, err
		}
		b.cause = err
		if n > 0 {
			return n, nil
		}
	}
}

// minProgress is what a body must have delivered since it was opened for
// its cut to start the count of failures afresh (as containers/image's
// bodyReader asks): a registry that cuts every body after a few bytes is
// failing, not making progress.
const minProgress = 1 << 20

// resume opens the blob again from b.off, after b.cause broke the body.
func (b *blobBody) resume() error {
	for {
		progress := b.off - b.opened
		if progress >= minProgress {
			b.fails = 1
		} else {
			b.fails++
		}
		if b.fails >= b.policy.Attempts {
			return &spentError{what: "read " + b.what, attempts: b.fails, err: b.cause}
		}
		wait := b.policy.wait(b.fails, 0, false)
		if progress > 0 {
			// A cut after bytes arrived is a broken connection, not a
			// registry asking for a pause.
			wait = 0
		}
		b.opened = b.off
		if b.log != nil {
			b.log("read %s: %v at byte %d; reading on in %s", b.what, b.cause, b.off, wait)
		}
		if wait > 0 {
			if err := sleep(b.ctx, wait); err != nil {
				return err
			}
		}
		err := b.open()
		if err == nil {
			return nil
		}
		if _, ok := Retryable(err); !ok || b.ctx.Err() != nil {
			return err
		}
		b.cause = err
	}
}

// open sends one GET from b.off and takes its body if it is the rest of
// the blob.
func (b *blobBody) open() error {
	h := http.Header{"Range": {"bytes=" + strconv.FormatInt(b.off, 10) + "-"}}
	resp, err := b.reopen(b.ctx, h)
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		from, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || from != b.off || (b.size >= 0 && total >= 0 && total != b.size) {
			resp.Body.Close()
			return fmt.Errorf("read %s: the registry answered a read from byte %d with Content-Range %q", b.what, b.off, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK:
		if b.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != b.size {
			resp.Body.Close()
			return fmt.Errorf("read %s: served again with %d bytes, first with %d", b.what, resp.ContentLength, b.size)
		}
		// The registry ignored Range: skip what was passed on already.
		if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
			resp.Body.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	default:
		defer resp.Body.Close()
		return transient(resp, b.refused(resp))
	}
	b.body = resp.Body
	return nil
}

func (b *blobBody) Close() error {
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	if b.err == nil {
		b.err = errors.New("read " + b.what + ": closed")
	}
	return err
}

// parseContentRange reads "bytes FROM-TO/TOTAL"; total is -1 for "*".
func parseContentRange(h string) (from, total int64, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, all, found := strings.Cut(rest, "/")
	first, _, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	from, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	total = -1
	if all != "*" {
		if total, err = strconv.ParseInt(all, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return from, total, true
}

// ReadURL opens rawURL, a file a manifest names on a host that is no
// registry (a foreign layer), through hc (OtherHostClient): the first GET
// under policy as a registry request is, the body read on where it is cut
// as a blob's is. size is what the server says, -1 when it does not.
func ReadURL(ctx context.Context, hc *http.Client, rawURL string, policy RetryPolicy) (io.ReadCloser, int64, error) {
	ctx = streaming(ctx)
	get := func(ctx context.Context, h http.Header) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range h {
			req.Header[k] = v
		}
		return hc.Do(req)
	}
	refused := func(resp *http.Response) error { return errors.New(resp.Status) }
	var resp *http.Response
	err := policy.run(ctx, nil, "", func(bool) error {
		r, err := get(ctx, nil)
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusOK {
			defer r.Body.Close()
			return transient(r, refused(r))
		}
		resp = r
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	b := &blobBody{ctx: ctx, policy: policy.orDefaults(), what: rawURL, reopen: get, refused: refused, body: resp.Body, size: resp.ContentLength}
	return b, resp.ContentLength, nil
}
