package copy

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// nodesOf lists the graphs below tops once per manifest, each top first.
func nodesOf(tops ...*node) []*node {
	seen := map[*node]bool{}
	var out []*node
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		out = append(out, n)
		for _, c := range n.children {
			walk(c)
		}
	}
	for _, t := range tops {
		walk(t)
	}
	return out
}

// needed is what must be written below tops: the manifests the
// destination lacks, and the blobs of the images among them, each once
// (a blob with the engine whose source holds it); with foreign, their
// foreign layers too.
func needed(foreign bool, tops ...*node) (manifests []*node, blobs []neededBlob) {
	seen := map[*node]bool{}
	blobSeen := map[digest.Digest]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] || n.present {
			return
		}
		seen[n] = true
		manifests = append(manifests, n)
		for _, c := range n.children {
			walk(c)
		}
		for i, b := range n.parsed.Blobs {
			if !blobSeen[b.Digest] {
				blobSeen[b.Digest] = true
				blobs = append(blobs, neededBlob{Descriptor: wireDescriptor(b), config: i == 0 && n.parsed.Config != nil, eng: n.eng})
			}
		}
		for _, f := range n.parsed.Foreign {
			if foreign && !blobSeen[f.Digest] {
				blobSeen[f.Digest] = true
				blobs = append(blobs, neededBlob{Descriptor: wireDescriptor(f.Descriptor), urls: f.URLs, eng: n.eng})
			}
		}
	}
	for _, t := range tops {
		walk(t)
	}
	slices.SortStableFunc(manifests, func(a, b *node) int { return a.height - b.height })
	return manifests, blobs
}

type neededBlob struct {
	registry.Descriptor
	config bool
	// eng reads it: a transfer from several repositories has one engine
	// for each.
	eng *engine
	// urls are a foreign layer's, which is read from them.
	urls []string
}

// engine is the engine that reads b: its own, or e.
func (b neededBlob) engine(e *engine) *engine {
	if b.eng != nil {
		return b.eng
	}
	return e
}

// engine is the engine n was read through: its own, or e.
func (n *node) engine(e *engine) *engine {
	if n.eng != nil {
		return n.eng
	}
	return e
}

// topNode is a manifest a write names: the copy's, or each of a transfer's.
type topNode struct {
	n *node
	// tag, when set, is where it is put instead of its digest.
	tag string
}

// write executes the plan: every blob, then the manifests children first,
// the tops last (each under its tag when set), each manifest and blob once
// however many tops share it.
func (e *engine) write(ctx context.Context, tops []topNode) error {
	var roots []*node
	isTop := map[*node]bool{}
	for _, t := range tops {
		roots = append(roots, t.n)
		isTop[t.n] = true
	}
	manifests, blobs := needed(e.fetchForeign, roots...)
	limit := e.smallLimit
	if !e.dst.parallel() {
		limit = 1
	}
	// Configs first: a docker-archive needs its config before its manifest,
	// and they are small.
	slices.SortStableFunc(blobs, func(a, b neededBlob) int {
		switch {
		case a.config && !b.config:
			return -1
		case b.config && !a.config:
			return 1
		}
		return 0
	})
	piloted, manifests, blobs, err := e.pilot(ctx, tops, manifests, blobs, limit)
	if err != nil {
		return err
	}
	if err := each(ctx, limit, blobs, func(ctx context.Context, b neededBlob) error {
		return e.dst.putBlob(ctx, b.engine(e), b)
	}); err != nil {
		return err
	}
	e.stats.add(func(s *Stats) { s.Present += countPresent(roots...) })
	// A manifest put under several tags is one manifest written, as the
	// plan counts it; the tags have their own lines.
	var countedMu sync.Mutex
	counted := map[*node]bool{}
	put := func(ctx context.Context, n *node, ref string, top bool) error {
		if err := e.dst.putManifest(ctx, n.Raw, n.MediaType, n.Digest, ref, top); err != nil {
			return fmt.Errorf("put manifest %s: %w", n.Digest, err)
		}
		countedMu.Lock()
		first := !counted[n]
		counted[n] = true
		countedMu.Unlock()
		if !n.present && first {
			e.stats.add(func(s *Stats) { s.Manifests++ })
			e.stats.progress("manifest %s written to %s", n.Digest, e.dst)
		}
		if top && ref != "" {
			e.stats.add(func(s *Stats) { s.TagsDone++ })
		}
		return nil
	}
	// By height, entries first: a top may be an entry of another top. A
	// top is put as one (under its tag, when set), once per tag.
	slices.SortStableFunc(tops, func(a, b topNode) int { return a.n.height - b.n.height })
	written := map[topNode]bool{}
	if piloted != nil {
		written[topNode{n: piloted}] = true
	}
	for h := 0; len(manifests)+len(tops) > 0; h++ {
		var level []topNode
		for len(manifests) > 0 && manifests[0].height == h {
			if n := manifests[0]; !isTop[n] {
				level = append(level, topNode{n: n})
			}
			manifests = manifests[1:]
		}
		tagging := false
		for len(tops) > 0 && tops[0].n.height == h {
			if t := tops[0]; !written[t] && (!t.n.present || t.tag != "") {
				written[t] = true
				level = append(level, t)
				tagging = tagging || t.tag != ""
			}
			tops = tops[1:]
		}
		if tagging && e.before != nil {
			if err := e.before(ctx); err != nil {
				return err
			}
		}
		if err := each(ctx, limit, level, func(ctx context.Context, t topNode) error {
			return put(ctx, t.n, t.tag, isTop[t.n])
		}); err != nil {
			return err
		}
	}
	return nil
}

// countPresent counts the manifests found at the destination.
func countPresent(tops ...*node) int { return len(presentNodes(tops...)) }

// presentNodes are the manifests below tops the destination holds: those
// found there, and everything below them.
func presentNodes(tops ...*node) map[*node]bool {
	held := map[*node]bool{}
	var hold func(n *node)
	hold = func(n *node) {
		if held[n] {
			return
		}
		held[n] = true
		for _, c := range n.children {
			hold(c)
		}
	}
	for _, n := range nodesOf(tops...) {
		if n.present {
			hold(n)
		}
	}
	return held
}
