package registry

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
)

// TestOpenCancelledMidRequestAbandons: a session the registry opens while
// the client's context is being cancelled is abandoned (DELETE), not left
// open; a cancelled context opens nothing.
func TestOpenCancelledMidRequestAbandons(t *testing.T) {
	d := digest.FromString("blob")
	for _, tc := range []struct {
		name string
		open func(c *Client, ctx context.Context) (*Upload, error)
	}{
		{"start", func(c *Client, ctx context.Context) (*Upload, error) { return c.StartUpload(ctx, "app", d) }},
		{"mount", func(c *Client, ctx context.Context) (*Upload, error) {
			_, u, err := c.MountBlob(ctx, "app", "other", d)
			return u, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var posts, deletes atomic.Int32
			srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
				switch r.Method {
				case http.MethodPost:
					posts.Add(1)
					cancel() // the interrupt arrives while the session opens
					w.Header().Set("Location", "/v2/app/blobs/uploads/s1")
					w.WriteHeader(http.StatusAccepted)
				case http.MethodDelete:
					if r.URL.Path == "/v2/app/blobs/uploads/s1" {
						deletes.Add(1)
					}
					w.WriteHeader(http.StatusNoContent)
				default:
					w.WriteHeader(http.StatusOK)
				}
			})
			c := New(srv.Host, nil, Options{Insecure: true})
			u, err := tc.open(c, ctx)
			if u != nil || !errors.Is(err, context.Canceled) {
				t.Errorf("got session %v, error %v; want none and context.Canceled", u, err)
			}
			if posts.Load() != 1 || deletes.Load() != 1 {
				t.Errorf("%d POSTs, %d DELETEs of the session; want 1 and 1", posts.Load(), deletes.Load())
			}
			// Once cancelled, nothing more is opened.
			if u, err := tc.open(c, ctx); u != nil || err == nil || posts.Load() != 1 {
				t.Errorf("after the cancel: session %v, error %v, %d POSTs; want no session, an error and no new POST", u, err, posts.Load())
			}
		})
	}
}
