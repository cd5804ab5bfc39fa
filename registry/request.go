package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// do sends a request under the client's retry policy: again, after the
// policy's wait, when it fails with a fault Retryable names or is answered
// with a status of the retry set, as long as body can be sent again (nil
// or an io.Seeker). The last answer comes back whatever its status, for
// statusError; an error whose attempts were spent is final.
func (c *Client) do(ctx context.Context, method, u string, body io.Reader, header http.Header) (*http.Response, error) {
	seeker, rewindable := body.(io.Seeker)
	if body != nil && !rewindable {
		return c.send(ctx, method, u, body, header)
	}
	var resp *http.Response
	first := true
	err := c.opts.Retry.run(ctx, c.opts.Log, "", func(last bool) error {
		if !first && rewindable {
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		first = false
		r, err := c.send(ctx, method, u, body, header)
		if err != nil {
			return err
		}
		if !last && retryStatus(r.StatusCode) {
			drain(r)
			return transient(r, fmt.Errorf("%s %s: %s", method, c.Host, r.Status))
		}
		resp = r
		return nil
	})
	return resp, err
}

// send makes one attempt of a request; the client's first request also
// settles the scheme and authentication while later ones wait.
func (c *Client) send(ctx context.Context, method, u string, body io.Reader, header http.Header) (*http.Response, error) {
	if c.tlsErr != nil {
		return nil, c.tlsErr
	}
	newRequest := func(u string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return req, nil
	}
	if !c.settled.Load() {
		// With credentials to present, the first answer is likely a
		// challenge: let one request meet it while the others wait, rather
		// than have each collect its own 401. Anonymous clients go at once.
		presents := c.auth.mayPresent()
		if presents {
			c.first.Lock()
		}
		if !c.settled.Load() {
			if presents {
				defer c.first.Unlock()
			}
			req, err := newRequest(u)
			if err != nil {
				return nil, err
			}
			resp, err := c.firstRequest(req)
			if err != nil {
				return nil, err
			}
			c.settled.Store(true)
			return resp, nil
		}
		if presents {
			c.first.Unlock()
		}
	}
	if c.plain.Load() {
		u = strings.Replace(u, "https://", "http://", 1)
	}
	req, err := newRequest(u)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if own := ownError(err); own != nil {
			return nil, own
		}
		return nil, fmt.Errorf("%s %s: %w", method, c.Host, scrub(err))
	}
	return resp, nil
}

// getBody sends a GET and reads a 200 answer whole, up to limit bytes,
// under the client's retry policy: a body cut or stalled midway is one
// failed attempt, as a failed request is. Any other status comes back with
// its body unread, for statusError.
func (c *Client) getBody(ctx context.Context, u string, header http.Header, limit int64) (*http.Response, []byte, error) {
	var resp *http.Response
	var body []byte
	err := c.opts.Retry.run(ctx, c.opts.Log, "", func(last bool) error {
		r, err := c.send(ctx, http.MethodGet, u, nil, header)
		if err != nil {
			return err
		}
		if !last && retryStatus(r.StatusCode) {
			drain(r)
			return transient(r, fmt.Errorf("GET %s: %s", c.Host, r.Status))
		}
		if r.StatusCode != http.StatusOK {
			resp = r
			return nil
		}
		if r.ContentLength > limit {
			// Closed unread: draining a huge body would be the work refused.
			r.Body.Close()
			return &tooLargeError{limit: limit, size: r.ContentLength}
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		r.Body.Close()
		if err != nil {
			return &readError{err: err}
		}
		if int64(len(b)) > limit {
			return &tooLargeError{limit: limit}
		}
		resp, body = r, b
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// scrub removes a URL's query and user info from transport errors; the token
// realm URL may carry both.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User = nil
			u.RawQuery = ""
			return fmt.Errorf("%s: %w", u.String(), ue.Err)
		}
	}
	return err
}

func (c *Client) resolve(loc string) (string, error) {
	if loc == "" {
		return "", errors.New("registry sent no Location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	base, _ := url.Parse(c.base())
	return base.ResolveReference(u).String(), nil
}

// tooLargeError is an answer over the size a client reads whole.
type tooLargeError struct {
	limit int64
	size  int64 // from Content-Length; 0 when unknown
}

func (e *tooLargeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("%d bytes, over the limit of %s", e.size, byteSize(e.limit))
	}
	return "over the limit of " + byteSize(e.limit)
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readError is an answer whose body could not be read.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the answer: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }
