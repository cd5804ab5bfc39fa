package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Bounds on a tags listing: a registry whose Link never ends must not hold
// a command forever or fill its memory.
const (
	MaxTagPages = 10_000
	MaxTags     = 1_000_000
	maxTagsPage = 16 << 20 // bytes of one page
)

// Tags lists a repository's tags, following every page. pageSize asks the
// registry for pages of that many tags (0: the registry's default). A Link
// to another host is followed without the registry's credentials.
func (c *Client) Tags(ctx context.Context, repo string, pageSize int) ([]string, error) {
	next := fmt.Sprintf("%s/v2/%s/tags/list", c.base(), repo)
	if pageSize > 0 {
		next += "?n=" + strconv.Itoa(pageSize)
	}
	var tags []string
	seen := map[string]bool{}
	for pages := 0; next != ""; pages++ {
		if pages == MaxTagPages {
			return nil, fmt.Errorf("%s/%s: more than %d pages of tags; giving up", c.Host, repo, MaxTagPages)
		}
		if seen[next] {
			return nil, fmt.Errorf("%s/%s: the registry's tags Link leads back to a page already read", c.Host, repo)
		}
		seen[next] = true
		resp, body, err := c.getBody(ctx, next, nil, maxTagsPage)
		var tooLarge *tooLargeError
		var unread *readError
		if errors.As(err, &tooLarge) || errors.As(err, &unread) {
			return nil, fmt.Errorf("%s/%s: tags: %w", c.Host, repo, err)
		} else if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			// The repository is the subject: a 404 says it is unknown.
			err := c.statusError(resp, repo, "")
			resp.Body.Close()
			return nil, err
		}
		if resp.Request != nil {
			seen[resp.Request.URL.String()] = true // the page as fetched: the scheme may have changed
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("%s/%s: tags: %w", c.Host, repo, err)
		}
		if len(tags)+len(page.Tags) > MaxTags {
			return nil, fmt.Errorf("%s/%s: more than %d tags; giving up", c.Host, repo, MaxTags)
		}
		tags = append(tags, page.Tags...)
		next = ""
		if link := parseLink(resp.Header.Get("Link")); link != "" {
			// Relative to the page that sent it, which may be on another host.
			if resp.Request != nil {
				if u, err := resp.Request.URL.Parse(link); err == nil {
					next = u.String()
				}
			} else if u, err := c.resolve(link); err == nil {
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
	resp, err := c.do(AbsentIsAnswer(ctx), http.MethodGet, fmt.Sprintf("%s/v2/%s/tags/list?n=1", c.base(), repo), nil, nil)
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
