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
	// extra marks a -t tag: it is put after the root's own tag, so no
	// extra tag ever names what the main one does not yet.
	extra bool
}

// write executes the plan: the blobs, and each manifest once its blobs and
// children are written, the tops under their tags when set, each manifest
// and blob once however many tops share it. A top's tag is put as soon as
// its own graph is there: one top's tags do not wait for another's blobs.
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
	jobs := e.writeJobs(tops, isTop, piloted, manifests, blobs)
	return schedule(ctx, limit, jobs, func(ctx context.Context, j *writeJob) error {
		switch {
		case j.gate:
			return e.before(ctx)
		case j.blob != nil:
			return e.dst.putBlob(ctx, j.blob.engine(e), *j.blob)
		}
		return put(ctx, j.put.n, j.put.tag, j.top)
	})
}

// writeJobs are the requests of a write and what each waits for: a
// manifest its blobs and its children's puts (children first, as a
// registry requires); with a before hook, the puts under tags wait for a
// gate that runs it once everything below the first tagged height is
// written. A top is put as one (under its tag, when set), once per tag.
func (e *engine) writeJobs(tops []topNode, isTop map[*node]bool, piloted *node, manifests []*node, blobs []neededBlob) []*writeJob {
	var jobs []*writeJob
	blobJob := map[digest.Digest]*writeJob{}
	for i := range blobs {
		j := &writeJob{blob: &blobs[i]}
		jobs = append(jobs, j)
		blobJob[blobs[i].Digest] = j
	}
	puts := map[*node][]*writeJob{}
	var order []*writeJob
	add := func(t topNode, top bool) {
		j := &writeJob{put: t, top: top, height: t.n.height}
		order = append(order, j)
		puts[t.n] = append(puts[t.n], j)
	}
	for _, n := range manifests {
		if !isTop[n] {
			add(topNode{n: n}, false)
		}
	}
	written := map[topNode]bool{}
	if piloted != nil {
		written[topNode{n: piloted}] = true
	}
	for _, t := range tops {
		if !written[t] && (!t.n.present || t.tag != "") {
			written[t] = true
			add(t, true)
		}
	}
	mainTag := map[*node]*writeJob{}
	for _, j := range order {
		if j.top && j.put.tag != "" && !j.put.extra && mainTag[j.put.n] == nil {
			mainTag[j.put.n] = j
		}
	}
	var gate *writeJob
	for _, j := range order {
		if m := mainTag[j.put.n]; j.put.extra && m != nil {
			j.waitFor(m)
		}
		n := j.put.n
		for _, b := range n.parsed.Blobs {
			if bj := blobJob[b.Digest]; bj != nil {
				j.waitFor(bj)
			}
		}
		for _, f := range n.parsed.Foreign {
			if bj := blobJob[f.Digest]; bj != nil {
				j.waitFor(bj)
			}
		}
		for _, c := range n.children {
			for _, cj := range puts[c] {
				j.waitFor(cj)
			}
		}
		if e.before != nil && j.put.tag != "" {
			if gate == nil || j.height < gate.height {
				if gate == nil {
					gate = &writeJob{gate: true}
				}
				gate.height = j.height
			}
		}
	}
	if gate != nil {
		// Below the first tagged height nothing is tagged, so the gate
		// waits for no tag, and no cycle forms.
		for _, j := range jobs {
			gate.waitFor(j)
		}
		for _, j := range order {
			switch {
			case j.put.tag != "":
				j.waitFor(gate)
			case j.height < gate.height:
				gate.waitFor(j)
			}
		}
		jobs = append(jobs, gate)
	}
	return append(jobs, order...)
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
