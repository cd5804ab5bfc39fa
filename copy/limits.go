package copy

import (
	"context"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"golang.org/x/sync/errgroup"
)

// The engine's limits: how many blob streams and small requests one
// command runs at once.

// DefaultJobs is how many blob streams a copy runs at once when
// Options.Jobs is not set.
const DefaultJobs = 6

// smallPerJob is how many small requests (manifest GET/HEAD/PUT, blob
// HEAD and mount) may run per blob stream: they are not queued behind
// the streams.
const smallPerJob = 4

// SmallJobs is how many small requests a copy at DefaultJobs streams runs
// at once: a push's or merge's entries, read from several repositories,
// share it.
const SmallJobs = DefaultJobs * smallPerJob

// smallBlob is the size up to which a blob is a small request, not a
// stream: configs and attestation layers cost about what a manifest does,
// so they do not wait for a stream (nor hold one from a layer).
const smallBlob = 256 << 10

// acquire takes a blob stream for b, waiting for one to be free, and
// returns what gives it back (which may be called more than once); a small
// blob takes none.
func (e *engine) acquire(ctx context.Context, b registry.Descriptor) (release func(), err error) {
	if b.Size >= 0 && b.Size <= smallBlob {
		return func() {}, nil
	}
	select {
	case e.streams <- struct{}{}:
		return sync.OnceFunc(func() { <-e.streams }), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// each runs f over items, e.smallLimit at a time, and returns the first
// error, cancelling the others.
func each[T any](ctx context.Context, limit int, items []T, f func(ctx context.Context, item T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, it := range items {
		g.Go(func() error { return f(ctx, it) })
	}
	return g.Wait()
}
