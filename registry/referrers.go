package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"
)

// Referrers lists the manifests whose subject is d, through the OCI
// referrers API. Registries without that API (404) give none.
func (c *Client) Referrers(ctx context.Context, repo string, d digest.Digest) ([]Descriptor, error) {
	resp, err := c.do(ctx, http.MethodGet, c.url(repo, "referrers", d.String()), nil, http.Header{"Accept": {"application/vnd.oci.image.index.v1+json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest:
		return nil, nil
	default:
		return nil, c.statusError(resp, repo, d.String())
	}
	var idx struct {
		Manifests []struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
		} `json:"manifests"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("referrers of %s/%s@%s: %w", c.Host, repo, d, err)
	}
	out := make([]Descriptor, 0, len(idx.Manifests))
	for _, m := range idx.Manifests {
		out = append(out, Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size})
	}
	return out, nil
}
