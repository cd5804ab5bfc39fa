package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// GetManifest fetches a manifest by tag or digest. When ref is a digest the
// bytes are verified against it.
func (c *Client) GetManifest(ctx context.Context, repo, ref string) ([]byte, Descriptor, error) {
	resp, raw, err := c.getBody(ctx, c.url(repo, "manifests", ref), http.Header{"Accept": {strings.Join(acceptManifest, ", ")}}, MaxManifestSize)
	var tooLarge *tooLargeError
	var unread *readError
	switch {
	case errors.As(err, &tooLarge):
		return nil, Descriptor{}, fmt.Errorf("manifest %s: %w; no registry serves such a manifest", c.subject(repo, ref), err)
	case errors.As(err, &unread):
		return nil, Descriptor{}, fmt.Errorf("manifest %s: %w", c.subject(repo, ref), err)
	case err != nil:
		return nil, Descriptor{}, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, Descriptor{}, c.statusError(resp, repo, ref)
	}
	d := digest.FromBytes(raw)
	if want, err := digest.Parse(ref); err == nil && want != d {
		return nil, Descriptor{}, fmt.Errorf("manifest %s/%s@%s: registry returned content with digest %s (%w)", c.Host, repo, ref, d, ErrDigestMismatch)
	}
	mt := resp.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	return raw, Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, nil
}

// ErrDigestMismatch means a registry served, for a digest, bytes that do not
// hash to it.
var ErrDigestMismatch = errors.New("digest mismatch")

// MaxManifestSize is the largest manifest a client reads, as containers/image
// and distribution allow.
const MaxManifestSize = 4 << 20

// subject names repo and ref the way Error does: host/repo:tag or
// host/repo@digest.
func (c *Client) subject(repo, ref string) string {
	if strings.Contains(ref, ":") {
		return c.Host + "/" + repo + "@" + ref
	}
	return c.Host + "/" + repo + ":" + ref
}

// HeadManifest reports a manifest's descriptor, or ErrNotFound.
func (c *Client) HeadManifest(ctx context.Context, repo, ref string) (Descriptor, error) {
	resp, err := c.do(ctx, http.MethodHead, c.url(repo, "manifests", ref), nil, http.Header{"Accept": {strings.Join(acceptManifest, ", ")}})
	if err != nil {
		return Descriptor{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Descriptor{}, c.statusError(resp, repo, ref)
	}
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		// Without the header the digest needs the bytes.
		_, desc, gerr := c.GetManifest(ctx, repo, ref)
		return desc, gerr
	}
	size, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return Descriptor{MediaType: resp.Header.Get("Content-Type"), Digest: d, Size: size}, nil
}

// PutManifest stores raw under ref (a tag or its digest) and returns the
// digest the registry reports.
func (c *Client) PutManifest(ctx context.Context, repo, ref string, raw []byte, mediaType string) (digest.Digest, error) {
	resp, err := c.do(ctx, http.MethodPut, c.url(repo, "manifests", ref), bytes.NewReader(raw), http.Header{"Content-Type": {mediaType}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		err := c.statusError(resp, repo, ref)
		if e, ok := err.(*Error); ok {
			e.MediaType = mediaType
		}
		return "", err
	}
	d := digest.FromBytes(raw)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return "", fmt.Errorf("put manifest %s/%s:%s: registry stored digest %s, expected %s", c.Host, repo, ref, got, d)
	}
	return d, nil
}

// DeleteManifest deletes a manifest by digest.
func (c *Client) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	resp, err := c.do(ctx, http.MethodDelete, c.url(repo, "manifests", d.String()), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return c.statusError(resp, repo, d.String())
	}
	return nil
}
