package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
)

// Upload is an upload session a registry opened for one blob.
type Upload struct {
	c        *Client
	repo     string
	location string
	// minChunk is the registry's OCI-Chunk-Min-Length, 0 if it sent none.
	minChunk int64
}

// StartUpload opens an upload session in repo for blob d (named in
// errors). The request is sent once: the upload it opens is retried as a
// whole by the caller (Client.Retry).
func (c *Client) StartUpload(ctx context.Context, repo string, d digest.Digest) (*Upload, error) {
	octx, cancel := openContext(ctx)
	defer cancel()
	resp, err := c.send(octx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/", c.base(), repo), nil, http.Header{"Content-Length": {"0"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, transient(resp, c.statusError(resp, repo, d.String()))
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

// ErrMonolithicRefused is returned by Upload.Put when the registry refused
// a blob sent in one request. The client remembers it: the next Put on a
// new session of the same client uploads in chunks.
var ErrMonolithicRefused = errors.New("registry refused a monolithic upload")

// Put sends size bytes from r and commits them as blob d: in one request,
// or in chunks (PATCH with Content-Range, then PUT) where the registry
// refused a whole blob in one request before. A session is used once: after
// an error, Cancel it and start a new one.
func (u *Upload) Put(ctx context.Context, d digest.Digest, size int64, r io.Reader) error {
	if u.c.chunked.Load() {
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
		u.c.chunked.Store(true)
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
	chunk := max(orDefault64(u.c.opts.ChunkSize, DefaultChunkSize), u.minChunk)
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
// session, cancelled if the upload fails: one attempt, which a caller that
// can read r again retries with Retry.
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

// transient marks err, about an answer on the session, retryable where a
// new session may succeed: the retry set, and a session the registry no
// longer knows (404, e.g. expired while the blob waited for its turn),
// which lost the session, not the blob.
func (u *Upload) transient(resp *http.Response, err error) error {
	if resp.StatusCode == http.StatusNotFound {
		return &transientError{err: err}
	}
	return transient(resp, err)
}
