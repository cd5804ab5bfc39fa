package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// RetryPolicy is how a client tries again what failed for a moment: every
// request it sends, a blob body cut part-way (read on from where it
// stopped) and a blob transfer run through Client.Retry. One attempt of any
// of them is never retried inside another: a request made within an
// attempt is sent once, and an error whose attempts are spent is final.
type RetryPolicy struct {
	// Attempts is how many times an operation is tried in all, the first
	// included (0: DefaultRetryAttempts; 1: never again).
	Attempts int
	// Base is the wait before the second attempt; each later wait doubles
	// (0: DefaultRetryBase).
	Base time.Duration
	// Max bounds every wait, a registry's Retry-After included
	// (0: DefaultRetryMax).
	Max time.Duration
}

// Defaults of RetryPolicy fields left zero.
const (
	DefaultRetryAttempts = 4
	DefaultRetryBase     = time.Second
	DefaultRetryMax      = time.Minute
)

func (p RetryPolicy) orDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryAttempts
	}
	p.Base = orDefault(p.Base, DefaultRetryBase)
	p.Max = orDefault(p.Max, DefaultRetryMax)
	return p
}

// wait is how long to wait before retry n (1 for the second attempt): what
// the registry asked for, where it did, else the doubling backoff; at most
// Max either way.
func (p RetryPolicy) wait(n int, asked time.Duration, named bool) time.Duration {
	if named {
		return min(max(asked, 0), p.Max)
	}
	w := p.Base
	for i := 1; i < n && w < p.Max; i++ {
		w *= 2
	}
	return min(w, p.Max)
}

// run calls attempt until it returns nil or an error Retryable calls final,
// or the policy's attempts are spent, waiting between attempts; last tells
// attempt that no other follows (an answer it would retry is then the
// result). An error whose attempts were spent is final for any caller.
func (p RetryPolicy) run(ctx context.Context, log func(string, ...any), what string, attempt func(last bool) error) error {
	p = p.orDefaults()
	for n := 1; ; n++ {
		err := attempt(n == p.Attempts)
		if err == nil {
			return nil
		}
		asked, named, again := classify(err)
		if !again || ctx.Err() != nil {
			return err
		}
		if n == p.Attempts {
			return &spentError{what: what, attempts: n, err: err}
		}
		wait := p.wait(n, asked, named)
		if log != nil && what != "" {
			log("%s: %v; retrying in %s", what, err, wait)
		} else if log != nil {
			log("%v; retrying in %s", err, wait)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retry runs attempt under the client's retry policy: again after an error
// Retryable calls transient, until it succeeds or the policy's attempts are
// spent. The requests attempt makes on this client's upload sessions are
// sent once each, so an operation such as a blob upload (open a session,
// send the blob) is retried as a whole, never request by request inside.
// what names the operation in the debug log and the final error.
func (c *Client) Retry(ctx context.Context, what string, attempt func() error) error {
	return c.opts.Retry.run(ctx, c.opts.Log, what, func(bool) error { return attempt() })
}

// retryStatus is the one set of answers worth trying again: throttling
// (429), a request the registry timed out (408), and a registry or gateway
// briefly failing or unavailable (500, 502, 503, 504).
func retryStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads an answer's Retry-After, in seconds or as an HTTP date.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// transientError is an answer a later attempt may not meet (retryStatus),
// seen by the attempt that got it, with the wait the registry asked for.
type transientError struct {
	err   error
	wait  time.Duration
	named bool // the registry sent Retry-After
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// transient marks err, made from resp, retryable when resp's status is.
func transient(resp *http.Response, err error) error {
	if !retryStatus(resp.StatusCode) {
		return err
	}
	wait, named := retryAfter(resp.Header)
	return &transientError{err: err, wait: wait, named: named}
}

// spentError is a fault that was tried again as often as the policy allows:
// final, for whatever operation contains the one that made it.
type spentError struct {
	what     string
	attempts int
	err      error
}

func (e *spentError) Error() string {
	switch {
	case e.attempts == 1 && e.what == "":
		return e.err.Error()
	case e.attempts == 1:
		return e.what + ": " + e.err.Error()
	case e.what == "":
		return fmt.Sprintf("%v (%d attempts)", e.err, e.attempts)
	}
	return fmt.Sprintf("%s: %d attempts failed, the last: %v", e.what, e.attempts, e.err)
}
func (e *spentError) Unwrap() error { return e.err }

// Retryable is the one rule of what is worth another attempt: an answer in
// the retry set seen by the attempt that got it (a status error returned by
// a request method has had its retries), a connection reset or cut, a body
// cut short, a timeout once connected. A registry that cannot be dialled is
// down or misnamed, not blinking; a cancelled operation, content that does
// not match, a refusal and anything whose attempts were spent are final.
// wait is what the registry asked for, 0 when it named nothing.
func Retryable(err error) (wait time.Duration, ok bool) {
	wait, _, ok = classify(err)
	return wait, ok
}

func classify(err error) (wait time.Duration, named, ok bool) {
	var spent *spentError
	if err == nil || errors.Is(err, context.Canceled) || errors.As(err, &spent) {
		return 0, false, false
	}
	var te *transientError
	if errors.As(err, &te) {
		return te.wait, te.named, true
	}
	var e *Error
	if errors.As(err, &e) {
		return 0, false, false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return 0, false, false
	}
	// net/http's own header timeout reports itself as DeadlineExceeded
	// too: run stops when the caller's context is done.
	var ne net.Error
	return 0, false, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
