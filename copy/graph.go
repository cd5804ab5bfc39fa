package copy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// maxNesting is how many lists may hold one another, the top one included:
// no builder nests that deep, and a graph that does is refused before
// anything is written.
const maxNesting = 8

// ErrTooDeep is what a graph whose lists nest more than maxNesting deep
// fails with.
var ErrTooDeep = fmt.Errorf("lists nested more than %d deep", maxNesting)

func tooDeep(src string, top digest.Digest) error {
	return fmt.Errorf("%s@%s: %w: at most %d levels of lists, the top one included, are read; nothing was written", src, top, ErrTooDeep, maxNesting)
}

// flights runs one job per key, and everyone who asks for a key shares
// that job's outcome, while it runs and after: what repeats in a graph is
// asked for once. A job cut short by its context is forgotten.
type flights[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*flight[V]
}

type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (f *flights[K, V]) do(ctx context.Context, key K, run func() (V, error)) (V, error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[K]*flight[V]{}
	}
	if p := f.m[key]; p != nil {
		f.mu.Unlock()
		select {
		case <-p.done:
			return p.v, p.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	fl := &flight[V]{done: make(chan struct{})}
	f.m[key] = fl
	f.mu.Unlock()
	fl.v, fl.err = run()
	if ctx.Err() != nil {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
	}
	close(fl.done)
	return fl.v, fl.err
}

// limiter bounds the requests of a whole graph at once. A slot is held for
// one request only, never while waiting for other work: a list waiting for
// its entries holds none, so no depth of nesting can use up the slots and
// wait for itself.
type limiter chan struct{}

func (l limiter) do(ctx context.Context, f func() error) error {
	select {
	case l <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l }()
	return f()
}

// graphWalk reads index graphs: each manifest once per digest, however
// often and at whatever depth it repeats (every entry naming it links the
// one node), and every request under one limit for the whole graph. A walk
// may start from several tops, read from several sources; what they share
// is read once.
type graphWalk struct {
	ctx   context.Context
	g     *errgroup.Group
	slots limiter
	// probe, when set, asks the destination whether it holds a manifest
	// before it is read: one it holds is not read, nor anything below it.
	probe func(ctx context.Context, n *node) (bool, error)
	// check, when set, refuses a manifest once read and parsed.
	check func(n *node) error

	mu    sync.Mutex
	nodes map[digest.Digest]*node
	tops  []*node
}

func newGraphWalk(ctx context.Context, limit int) *graphWalk {
	g, gctx := errgroup.WithContext(ctx)
	return &graphWalk{ctx: gctx, g: g, slots: make(limiter, limit), nodes: map[digest.Digest]*node{}}
}

// add walks the graph below top, read from e's source, and returns the
// node that stands for it (another top's, when the digest is the same). A
// top whose Raw is set is not read again; one already parsed is not parsed
// again.
func (w *graphWalk) add(e *engine, top *node) *node {
	n, fresh := w.link(e, top)
	w.mu.Lock()
	w.tops = append(w.tops, n)
	w.mu.Unlock()
	if fresh {
		w.g.Go(func() error { return w.visit(n, 0) })
	}
	return n
}

// link returns the node of n's digest, n itself when it is new.
func (w *graphWalk) link(e *engine, n *node) (_ *node, fresh bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if have := w.nodes[n.Digest]; have != nil {
		return have, false
	}
	n.eng = e
	w.nodes[n.Digest] = n
	return n, true
}

// wait returns once every manifest is read, with the first error; a graph
// whose lists nest deeper than maxNesting fails with ErrTooDeep.
func (w *graphWalk) wait() error {
	if err := w.g.Wait(); err != nil {
		return err
	}
	heights := map[*node]int{}
	for _, top := range w.tops {
		if height(top, heights) > maxNesting {
			return tooDeep(top.eng.src.String(), top.Digest)
		}
	}
	// A digest named twice with two sizes: the node was checked against
	// the first; the others are checked now, against its bytes.
	for _, n := range w.nodes {
		if n.parsed.Kind != manifestlist.KindList {
			continue
		}
		for i, d := range n.parsed.List.Manifests {
			c := n.children[i]
			if c.Raw != nil && d.Size > 0 && int64(len(c.Raw)) != d.Size {
				return &CorruptError{Kind: "manifest", Digest: d.Digest, Source: c.eng.src.String(), Size: d.Size, GotSize: int64(len(c.Raw))}
			}
		}
	}
	return nil
}

// read reads manifest d from e's source under the walk's limit and holds
// it to the descriptor that named it (size, when it said one, and digest).
func (w *graphWalk) read(ctx context.Context, e *engine, d digest.Digest, size int64) (raw []byte, mediaType string, err error) {
	err = w.slots.do(ctx, func() error {
		raw, mediaType, err = e.src.manifest(ctx, d)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if err := checkManifest(e.src.String(), Manifest{Digest: d, Size: size, Raw: raw}); err != nil {
		return nil, "", err
	}
	return raw, mediaType, nil
}

// visit reads n (unless the destination holds it) and, for a list, starts
// a visit of each entry not seen before, at depth+1.
func (w *graphWalk) visit(n *node, depth int) error {
	ctx, e := w.ctx, n.eng
	if w.probe != nil {
		var present bool
		err := w.slots.do(ctx, func() (err error) {
			present, err = w.probe(ctx, n)
			return err
		})
		if err != nil {
			return err
		}
		if present {
			n.present = true
			return nil
		}
	}
	if n.Raw == nil {
		raw, mt, err := w.read(ctx, e, n.Digest, n.Size)
		if err != nil {
			return err
		}
		n.Raw = raw
		if n.MediaType == "" {
			n.MediaType = mt
		}
	} else if n.parsed.MediaType == "" {
		if err := checkManifest(e.src.String(), Manifest{Digest: n.Digest, Size: n.Size, Raw: n.Raw}); err != nil {
			return err
		}
	}
	if n.parsed.MediaType == "" {
		p, err := manifestlist.Parse(n.Raw, n.MediaType)
		if err != nil {
			return fmt.Errorf("%s@%s: %w", e.src, n.Digest, err)
		}
		n.parsed = p
		if n.MediaType == "" {
			n.MediaType = p.MediaType
		}
	}
	if w.check != nil {
		if err := w.check(n); err != nil {
			return err
		}
	}
	if n.parsed.Kind != manifestlist.KindList {
		return nil
	}
	if depth >= maxNesting && len(n.parsed.List.Manifests) > 0 {
		// Found on the way down: the walk stops here however many lists
		// a registry makes up below.
		w.mu.Lock()
		top := w.tops[0]
		w.mu.Unlock()
		return tooDeep(top.eng.src.String(), top.Digest)
	}
	n.children = make([]*node, len(n.parsed.List.Manifests))
	for i := range n.parsed.List.Manifests {
		d := n.parsed.List.Manifests[i]
		c, fresh := w.link(e, &node{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, desc: &d})
		n.children[i] = c
		if fresh {
			w.g.Go(func() error { return w.visit(c, depth+1) })
		}
	}
	return nil
}

// height is 0 for an image, 1 + the highest entry for a list, computed
// once per node (a graph that repeats its entries at every level would
// otherwise be walked once per path).
func height(n *node, memo map[*node]int) int {
	if h, ok := memo[n]; ok {
		return h
	}
	memo[n] = 0 // a cycle, which digests cannot make, ends here
	h := 0
	for _, c := range n.children {
		h = max(h, 1+height(c, memo))
	}
	memo[n] = h
	n.height = h
	return h
}

// setHeight computes the heights of the graph below root.
func setHeight(root *node) { height(root, map[*node]int{}) }

// errNoImage is a list (nested lists included) without an image for a platform.
var errNoImage = errors.New("no image")
