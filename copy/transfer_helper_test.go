package copy

import "context"

// transfer makes manifests ms of src present in dst through the engine's
// transfer (what --referrers uses for each referrer), as one graph.
func transfer(ctx context.Context, src, dst Endpoint, stats *Stats, ms ...Manifest) error {
	if stats == nil {
		stats = &Stats{}
	}
	e := newEngine(&registrySource{ep: src}, &registryDestination{ep: dst}, Options{}, stats)
	e.smallLimit = SmallJobs
	return e.transfer(ctx, dst, ms...)
}

// countActions counts the plan's manifests with this action.
func countActions(ms []PlanManifest, action string) int {
	n := 0
	for _, m := range ms {
		if m.Action == action {
			n++
		}
	}
	return n
}
