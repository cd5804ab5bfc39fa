// Package copy moves manifests and blobs between repositories and registries.
package copy

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// ForEach runs f over items, DefaultJobs at a time, and returns the first
// error, cancelling the others. The engine's copies use errgroups sized by
// Options.Jobs instead.
func ForEach[T any](ctx context.Context, items []T, f func(ctx context.Context, i int, item T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultJobs)
	for i, it := range items {
		g.Go(func() error { return f(ctx, i, it) })
	}
	return g.Wait()
}
