package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Tags lists a repository's tags, following every page. pageSize asks the
// registry for pages of that many tags (0: the registry's default).
func (c *Client) Tags(ctx context.Context, repo string, pageSize int) ([]string, error) {
	next := fmt.Sprintf("%s/v2/%s/tags/list", c.base(), repo)
	if pageSize > 0 {
		next += "?n=" + strconv.Itoa(pageSize)
	}
	var tags []string
	for next != "" {
		resp, err := c.do(ctx, http.MethodGet, next, nil, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			err := c.statusError(resp, repo, "tags")
			resp.Body.Close()
			return nil, err
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("tags of %s/%s: %w", c.Host, repo, err)
		}
		tags = append(tags, page.Tags...)
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			if u, err := c.resolve(parseLink(link)); err == nil && parseLink(link) != "" {
				next = u
			}
		}
	}
	return tags, nil
}

// parseLink extracts the target of an RFC 5988 `<url>; rel="next"` header.
func parseLink(h string) string {
	start, end := strings.IndexByte(h, '<'), strings.IndexByte(h, '>')
	if start < 0 || end < start {
		return ""
	}
	return h[start+1 : end]
}

// RepositoryIsNew reports whether the registry says repo does not exist
// (NAME_UNKNOWN), in which case it holds no blob or manifest and a copy need
// not check for any. Any other answer counts as "may hold something".
func (c *Client) RepositoryIsNew(ctx context.Context, repo string) bool {
	resp, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s/v2/%s/tags/list?n=1", c.base(), repo), nil, nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return false
	}
	var e *Error
	return errors.As(c.statusError(resp, repo, ""), &e) && e.Code == "NAME_UNKNOWN"
}
