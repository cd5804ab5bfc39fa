package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
)

// BlobExists reports whether repo holds the blob.
func (c *Client) BlobExists(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	resp, err := c.do(ctx, http.MethodHead, c.url(repo, "blobs", d.String()), nil, nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, c.statusError(resp, repo, d.String())
}

// GetBlob opens a blob for reading; the caller closes it. The size is -1
// when the registry does not say.
func (c *Client) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	body, _, size, err := c.GetBlobAt(ctx, repo, d, 0)
	return body, size, err
}

// GetBlobAt opens a blob for reading from offset, to resume a read that
// was cut. Where the registry honours the Range request (206) the body
// starts at offset; where it sends the whole blob (200) it starts at 0:
// start says which. size is the blob's whole size, -1 when unknown.
func (c *Client) GetBlobAt(ctx context.Context, repo string, d digest.Digest, offset int64) (body io.ReadCloser, start, size int64, err error) {
	var header http.Header
	if offset > 0 {
		header = http.Header{"Range": {fmt.Sprintf("bytes=%d-", offset)}}
	}
	resp, err := c.do(streaming(ctx), http.MethodGet, c.url(repo, "blobs", d.String()), nil, header)
	if err != nil {
		return nil, 0, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, 0, resp.ContentLength, nil
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		from, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || from != offset {
			resp.Body.Close()
			return nil, 0, 0, fmt.Errorf("blob %s/%s@%s: registry answered a read from byte %d with Content-Range %q", c.Host, repo, d, offset, resp.Header.Get("Content-Range"))
		}
		return resp.Body, offset, total, nil
	}
	defer resp.Body.Close()
	return nil, 0, 0, c.statusError(resp, repo, d.String())
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

// ReadBlob reads a small blob (a config) whole and verifies its digest.
func (c *Client) ReadBlob(ctx context.Context, repo string, d digest.Digest, limit int64) ([]byte, error) {
	body, _, err := c.GetBlob(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit))
	if err != nil {
		return nil, fmt.Errorf("read blob %s/%s@%s: %w", c.Host, repo, d, err)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s/%s@%s: content does not match its digest", c.Host, repo, d)
	}
	return b, nil
}

// MountBlob asks the registry to link blob d from repository from of the
// same registry into repo. It reports true when the blob is linked. When the
// registry declines (202) it returns the upload session the registry opened
// instead, for the caller to upload the blob into or Cancel.
//
// Mounting from repo itself asks whether repo already holds the blob, at
// the cost of the upload POST the caller would send anyway.
func (c *Client) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, *Upload, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	octx, cancel := openContext(ctx)
	defer cancel()
	resp, err := c.do(octx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/?%s", c.base(), repo, q.Encode()), nil, http.Header{"Content-Length": {"0"}})
	if err != nil {
		return false, nil, fmt.Errorf("mount %s from %s into %s: %w", d, from, repo, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil, nil
	case http.StatusAccepted:
		u, err := c.upload(resp, repo)
		u, err = opened(ctx, u, err)
		return false, u, err
	}
	err = c.statusError(resp, repo, d.String())
	var e *Error
	if errors.As(err, &e) && strings.Contains(" "+e.Scope, " repository:"+from+":") {
		// A refusal that names the source's scope is about reading the
		// source: pushing to repo is what the upload that follows needs, and
		// its own refusal will name repo.
		e.Repository = from
	}
	return false, nil, fmt.Errorf("mount from %s into %s: %w", from, repo, err)
}

// Upload is an upload session a registry opened for one blob.
type Upload struct {
	c        *Client
	repo     string
	location string
	// minChunk is the registry's OCI-Chunk-Min-Length, 0 if it sent none.
	minChunk int64
}

// StartUpload opens an upload session in repo for blob d (named in errors).
func (c *Client) StartUpload(ctx context.Context, repo string, d digest.Digest) (*Upload, error) {
	octx, cancel := openContext(ctx)
	defer cancel()
	resp, err := c.do(octx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/", c.base(), repo), nil, http.Header{"Content-Length": {"0"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, c.transient(resp, c.statusError(resp, repo, d.String()))
	}
	u, err := c.upload(resp, repo)
	return opened(ctx, u, err)
}

func (c *Client) upload(resp *http.Response, repo string) (*Upload, error) {
	loc, err := c.resolve(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("upload to %s/%s: %w", c.Host, repo, err)
	}
	u := &Upload{c: c, repo: repo, location: loc}
	if n, err := strconv.ParseInt(resp.Header.Get("OCI-Chunk-Min-Length"), 10, 64); err == nil && n > 0 {
		u.minChunk = n
	}
	return u, nil
}

// ChunkSize is the size of the chunks of a chunked upload, raised to the
// registry's OCI-Chunk-Min-Length where that is larger.
var ChunkSize int64 = 8 << 20

// chunkedClients holds the clients whose registry refused a monolithic
// upload (kept here rather than in Client so this concern stays in one file).
var chunkedClients sync.Map

// ErrMonolithicRefused is returned by Upload.Put when the registry refused
// a blob sent in one request. The client remembers it: the next Put on a
// new session of the same client uploads in chunks.
var ErrMonolithicRefused = errors.New("registry refused a monolithic upload")

// Put sends size bytes from r and commits them as blob d: in one request,
// or in chunks (PATCH with Content-Range, then PUT) where the registry
// refused a whole blob in one request before. A session is used once: after
// an error, Cancel it and start a new one.
func (u *Upload) Put(ctx context.Context, d digest.Digest, size int64, r io.Reader) error {
	if _, ok := chunkedClients.Load(u.c); ok {
		return u.putChunks(ctx, d, size, r)
	}
	resp, err := u.send(ctx, http.MethodPut, u.commitURL(d), r, size, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	err = u.c.statusError(resp, u.repo, d.String())
	if monolithicRefused(resp.StatusCode, err) {
		chunkedClients.Store(u.c, true)
		return fmt.Errorf("upload %s to %s/%s: %w (%w)", d, u.c.Host, u.repo, ErrMonolithicRefused, err)
	}
	return u.transient(resp, err)
}

// monolithicRefused reports the answers of registries that take blobs only
// in chunks: a request too large (413), a range they did not expect (416),
// or a 400 that is not about the content sent.
func monolithicRefused(status int, err error) bool {
	switch status {
	case http.StatusRequestEntityTooLarge, http.StatusRequestedRangeNotSatisfiable, http.StatusLengthRequired:
		return true
	case http.StatusBadRequest:
		var e *Error
		return !errors.As(err, &e) || (e.Code != "DIGEST_INVALID" && e.Code != "SIZE_INVALID" && e.Code != "BLOB_UPLOAD_UNKNOWN")
	}
	return false
}

// putChunks uploads in PATCH requests of at least the registry's minimum
// chunk length, then commits with an empty PUT.
func (u *Upload) putChunks(ctx context.Context, d digest.Digest, size int64, r io.Reader) error {
	chunk := max(ChunkSize, u.minChunk)
	for off := int64(0); off < size; {
		n := min(chunk, size-off)
		h := http.Header{"Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)}}
		resp, err := u.send(ctx, http.MethodPatch, u.location, io.LimitReader(r, n), n, h)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
			return u.transient(resp, u.c.statusError(resp, u.repo, d.String()))
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			if u.location, err = u.c.resolve(loc); err != nil {
				return fmt.Errorf("upload %s to %s/%s: %w", d, u.c.Host, u.repo, err)
			}
		}
		off += n
	}
	// A verifying reader reports a mismatch only when read past the end,
	// which the chunks above never do: ask it before committing.
	if n, err := r.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("upload %s to %s/%s: the source has more than %d bytes", d, u.c.Host, u.repo, size)
	} else if err != nil && err != io.EOF {
		return err
	}
	resp, err := u.send(ctx, http.MethodPut, u.commitURL(d), nil, 0, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return u.transient(resp, u.c.statusError(resp, u.repo, d.String()))
	}
	return nil
}

func (u *Upload) commitURL(d digest.Digest) string {
	p, err := url.Parse(u.location)
	if err != nil {
		return u.location
	}
	q := p.Query()
	q.Set("digest", d.String())
	p.RawQuery = q.Encode()
	return p.String()
}

// send makes one request with a streamed body of a known length: c.do
// would send an io.Reader with chunked transfer encoding, which some
// registries and proxies refuse, and could not retry it anyway.
func (u *Upload) send(ctx context.Context, method, target string, body io.Reader, size int64, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := u.c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("upload to %s/%s: %w", u.c.Host, u.repo, scrub(err))
	}
	return resp, nil
}

// Cancel abandons the session so the registry need not keep it until its
// purge. A registry that refuses is left alone: the session expires.
func (u *Upload) Cancel(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if resp, err := u.send(ctx, http.MethodDelete, u.location, nil, 0, nil); err == nil {
		drain(resp)
	}
}

// UploadBlob streams size bytes from r into repo as blob d on a new upload
// session, cancelled if the upload fails.
func (c *Client) UploadBlob(ctx context.Context, repo string, d digest.Digest, size int64, r io.Reader) error {
	u, err := c.StartUpload(ctx, repo, d)
	if err != nil {
		return err
	}
	if err := u.Put(ctx, d, size, r); err != nil {
		u.Cancel(ctx)
		return err
	}
	return nil
}

// transient is c.transient for an answer on the session: a session the
// registry no longer knows (404, e.g. expired while the blob waited for its
// turn) is lost, not the blob, and a new session may succeed.
func (u *Upload) transient(resp *http.Response, err error) error {
	if resp.StatusCode == http.StatusNotFound {
		return &transientError{err: err}
	}
	return u.c.transient(resp, err)
}

// transientError marks a failure that a later attempt may not meet, with the
// wait the registry asked for.
type transientError struct {
	err  error
	wait time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// transient marks err retryable when resp is a throttling or a gateway or
// registry fault, keeping its Retry-After.
func (c *Client) transient(resp *http.Response, err error) error {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		wait := time.Duration(0)
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			wait = min(time.Duration(secs)*time.Second, time.Minute)
		}
		return &transientError{err: err, wait: wait}
	}
	return err
}

// Transient reports whether err is a fault worth a new attempt (throttling,
// a 5xx, a connection reset or cut, a timeout) and the wait the registry
// asked for, 0 when it named none.
func Transient(err error) (time.Duration, bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	var te *transientError
	if errors.As(err, &te) {
		return te.wait, true
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return 0, true
		}
		return 0, false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return 0, false
	}
	var ne net.Error
	return 0, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout())
}

// Logf writes one line to the client's debug log (--debug), if it has one.
func (c *Client) Logf(format string, args ...any) {
	if c.opts.Log != nil {
		c.opts.Log(format, args...)
	}
}
