package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

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

// GetBlob opens a blob for reading; the caller closes it.
func (c *Client) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := c.do(ctx, http.MethodGet, c.url(repo, "blobs", d.String()), nil, nil)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, 0, c.statusError(resp, repo, d.String())
	}
	return resp.Body, resp.ContentLength, nil
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

// MountBlob asks the registry to link a blob from another repository of the
// same registry. It reports false, with the upload session cancelled, when
// the registry declines; callers then upload the blob.
func (c *Client) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	resp, err := c.do(ctx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/?%s", c.base(), repo, q.Encode()), nil, http.Header{"Content-Length": {"0"}})
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted:
		// The registry opened an upload instead; cancel it rather than leave it
		// dangling until the registry's purge.
		if loc := resp.Header.Get("Location"); loc != "" {
			if u, err := c.resolve(loc); err == nil {
				if r, err := c.do(ctx, http.MethodDelete, u, nil, nil); err == nil {
					r.Body.Close()
				}
			}
		}
		return false, nil
	}
	return false, c.statusError(resp, repo, d.String())
}

// UploadBlob streams size bytes from r into repo as blob d in one request.
func (c *Client) UploadBlob(ctx context.Context, repo string, d digest.Digest, size int64, r io.Reader) error {
	resp, err := c.do(ctx, http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/", c.base(), repo), nil, http.Header{"Content-Length": {"0"}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return c.statusError(resp, repo, d.String())
	}
	loc, err := c.resolve(resp.Header.Get("Location"))
	if err != nil {
		return fmt.Errorf("upload %s to %s/%s: %w", d, c.Host, repo, err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), r)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s to %s/%s: %w", d, c.Host, repo, scrub(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return c.statusError(resp, repo, d.String())
	}
	return nil
}
