package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

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
// when the registry does not say. A body cut part-way is read on from where
// it stopped (blobBody), within the client's retry policy.
func (c *Client) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	u := c.url(repo, "blobs", d.String())
	ctx = streaming(ctx)
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, 0, c.statusError(resp, repo, d.String())
	}
	b := &blobBody{
		ctx:    ctx,
		policy: c.opts.Retry.orDefaults(),
		log:    c.opts.Log,
		what:   fmt.Sprintf("blob %s/%s@%s", c.Host, repo, d),
		body:   resp.Body,
		size:   resp.ContentLength,
		reopen: func(ctx context.Context, h http.Header) (*http.Response, error) {
			return c.send(ctx, http.MethodGet, u, nil, h)
		},
		refused: func(resp *http.Response) error { return c.statusError(resp, repo, d.String()) },
	}
	return b, resp.ContentLength, nil
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
// the cost of the upload POST the caller would send anyway. The request is
// sent once: it opens an upload, which the caller retries as a whole
// (Client.Retry).
func (c *Client) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, *Upload, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	octx, cancel := openContext(ctx)
	defer cancel()
	resp, err := c.send(octx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/?%s", c.base(), repo, q.Encode()), nil, http.Header{"Content-Length": {"0"}})
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
	return false, nil, transient(resp, fmt.Errorf("mount from %s into %s: %w", from, repo, err))
}

// Logf writes one line to the client's debug log (--debug), if it has one.
func (c *Client) Logf(format string, args ...any) {
	if c.opts.Log != nil {
		c.opts.Log(format, args...)
	}
}
