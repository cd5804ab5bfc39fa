package registry

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// countingTransport counts the requests sent to the registry's own API
// (paths under /v2/ on its host): every attempt, a challenge answered 401
// and a retry included, as a proxy in front of the registry counts them.
// Token realms and the hosts blobs redirect to are not the registry's API
// and are not counted.
type countingTransport struct {
	next http.RoundTripper
	host string
	n    *atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && req.URL.Host == t.host && strings.HasPrefix(req.URL.Path, "/v2/") {
		t.n.Add(1)
	}
	return resp, err
}

// Requests is how many requests the client has sent to the registry's API
// so far (see countingTransport): plans count the reads they make with it.
func (c *Client) Requests() int64 {
	if c == nil || c.requests == nil {
		return 0
	}
	return c.requests.Load()
}
