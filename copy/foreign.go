package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
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

// openBlob tries each URL in turn; the body of the first that serves the
// layer is read on where it is cut, as a registry's blob is.
func (s *foreignSource) openBlob(ctx context.Context, b registry.Descriptor) (io.ReadCloser, int64, error) {
	var errs []string
	for _, u := range s.urls {
		body, err := fetchForeign(ctx, u)
		if err == nil {
			return body, b.Size, nil
		}
		if len(s.urls) > 1 {
			err = fmt.Errorf("%s: %w", u, err)
		}
		errs = append(errs, err.Error())
	}
	return nil, 0, errors.New(strings.Join(errs, "; "))
}

func fetchForeign(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q: only http and https URLs are fetched", rawURL)
	}
	body, _, err := registry.ReadURL(ctx, foreignClient, u.String(), registry.RetryPolicy{})
	return body, err
}

func (s *foreignSource) close() {}
