package copy

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// pilot writes one Docker-typed image of a plan that writes several
// manifests before the rest of the plan's blobs: a registry that refuses
// Docker media types (zot without its Docker compatibility) refuses the
// first, and then nothing more is uploaded. It costs no request, only the
// parallelism of the first image's manifest with the other blobs, and is
// skipped where the destination cannot refuse: a local layout, or the
// registry a Docker-typed image is read from. It returns what is left to
// write and the manifest it wrote, if any.
func (e *engine) pilot(ctx context.Context, tops []topNode, manifests []*node, blobs []neededBlob, limit int) (*node, []*node, []neededBlob, error) {
	dst, ok := e.dst.(*registryDestination)
	if !ok || len(manifests) < 2 {
		return nil, manifests, blobs, nil
	}
	tagged := map[*node]bool{} // put under a tag, and so last
	for _, t := range tops {
		tagged[t.n] = tagged[t.n] || t.tag != ""
	}
	docker := func(n *node) bool {
		return !tagged[n] && n.height == 0 && strings.HasPrefix(n.MediaType, "application/vnd.docker.")
	}
	i := slices.IndexFunc(manifests, docker)
	if i < 0 {
		return nil, manifests, blobs, nil
	}
	for _, n := range manifests {
		if docker(n) && n.engine(e).readsFrom(dst.ep.Client.Host) {
			return nil, manifests, blobs, nil // it holds Docker media types already
		}
	}
	first := manifests[i]
	mine := map[string]bool{}
	for _, b := range first.parsed.Blobs {
		mine[b.Digest.String()] = true
	}
	var now, later []neededBlob
	for _, b := range blobs {
		if mine[b.Digest.String()] {
			now = append(now, b)
		} else {
			later = append(later, b)
		}
	}
	if err := each(ctx, limit, now, func(ctx context.Context, b neededBlob) error {
		return e.dst.putBlob(ctx, b.engine(e), b)
	}); err != nil {
		return nil, nil, nil, err
	}
	if err := e.dst.putManifest(ctx, first.Raw, first.MediaType, first.Digest, "", false); err != nil {
		return nil, nil, nil, fmt.Errorf("put manifest %s: %w", first.Digest, err)
	}
	e.stats.add(func(s *Stats) { s.Manifests++ })
	e.stats.progress("manifest %s written to %s", first.Digest, e.dst)
	return first, slices.Delete(slices.Clone(manifests), i, i+1), later, nil
}

// readsFrom reports whether e reads from a registry on host.
func (e *engine) readsFrom(host string) bool {
	rs, ok := e.src.(*registrySource)
	return ok && rs.ep.Client.Host == host
}
