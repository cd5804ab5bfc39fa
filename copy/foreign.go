package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// foreignSource reads a foreign layer (one a manifest names with urls, as
// Windows base images do) from those URLs and nowhere else, for a
// destination that must hold it: docker load does not fetch it. The
// request goes through a client of its own, with no credentials: the
// registry's never reach the host a manifest names. What it reads is held
// to the layer's descriptor by the blob reader, like any blob.
type foreignSource struct {
	urls []string
}

// foreignClient carries no credentials and no registry's TLS settings,
// dials no link-local address and bounds its answers in time.
var foreignClient = registry.OtherHostClient(registry.Options{})

func (s *foreignSource) String() string {
	return "foreign layer URL " + strings.Join(s.urls, ", ")
}

func (s *foreignSource) resolve(context.Context) (digest.Digest, error) {
	return "", errors.New("internal: a foreign layer is not a manifest")
}

func (s *foreignSource) manifest(context.Context, digest.Digest) ([]byte, string, error) {
	return nil, "", errors.New("internal: a foreign layer is not a manifest")
}

// openBlob tries each URL in turn, from offset off where the server
// honours Range.
func (s *foreignSource) openBlob(ctx context.Context, b registry.Descriptor, off int64) (io.ReadCloser, int64, int64, error) {
	var errs []string
	for _, u := range s.urls {
		body, start, err := fetchForeign(ctx, u, off)
		if err == nil {
			return body, start, b.Size, nil
		}
		if len(s.urls) > 1 {
			err = fmt.Errorf("%s: %w", u, err)
		}
		errs = append(errs, err.Error())
	}
	return nil, 0, 0, errors.New(strings.Join(errs, "; "))
}

func fetchForeign(ctx context.Context, rawURL string, off int64) (io.ReadCloser, int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, fmt.Errorf("URL %q: only http and https URLs are fetched", rawURL)
	}
	req, err := http.NewRequestWithContext(registry.BlobContext(ctx), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := foreignClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, 0, nil
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		return resp.Body, off, nil
	}
	resp.Body.Close()
	return nil, 0, errors.New(resp.Status)
}

func (s *foreignSource) logf(string, ...any) {}
func (s *foreignSource) close()              {}
