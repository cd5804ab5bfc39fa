package copy

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// listWrite is a list to write into a repository whose entries may live
// in other repositories and registries: what a push and a merge plan.
type listWrite struct {
	command, source string
	// dst is the registry repository written; local, when set, is a
	// layout written instead (opened by Execute: a dry run writes nothing).
	dst       Endpoint
	local     *Location
	raw       []byte
	mediaType string
	// tags are written, the first the list's own; known are tags whose
	// digest was read already ("" for missing): they are not read again.
	tags  []string
	known map[string]digest.Digest
	// others are tags of other repositories of dst's registry.
	others []registry.Reference
	// entries, in the list's order.
	entries []listEntry
	opts    Options
	stats   *Stats
	// requests is how many requests the command has made so far.
	requests func() int
}

// listEntry is one entry of a list to write.
type listEntry struct {
	desc imgspecv1.Descriptor
	// from is the repository it lives in; nil when it is the target's
	// (or when local is set).
	from *Endpoint
	// local is the layout or archive it lives in (merge from oci:, ...).
	local source
	// raw, when known, is not read again.
	raw []byte
}

// planList reads what the list's write needs (each tag, then, unless the
// first tag holds the list already, which entries the target lacks and
// the graphs below them) and plans it; the list is the plan's one
// top, written under each tag that does not hold it.
func planList(ctx context.Context, lw listWrite) (*Plan, error) {
	if lw.stats == nil {
		lw.stats = &Stats{}
	}
	jobs := lw.opts.Jobs
	if jobs < 1 {
		jobs = DefaultJobs
	}
	lw.opts.Jobs = jobs
	var dst destination
	if lw.local == nil {
		dst = &registryDestination{ep: lw.dst}
	}
	we := newEngine(nil, dst, lw.opts, lw.stats)
	root := &node{Digest: digest.FromBytes(lw.raw), MediaType: lw.mediaType, Raw: lw.raw, eng: we}
	var err error
	if root.parsed, err = manifestlist.Parse(lw.raw, lw.mediaType); err != nil {
		return nil, err
	}
	if lw.local != nil {
		return planListLocal(ctx, lw, we, root)
	}
	if lw.foreign() > 1 {
		// A repository without tags cannot hold what is pushed into it
		// under a tag: one probe saves a manifest HEAD per entry, and
		// the HEAD of every tag (each is new).
		lw.dst.New = lw.dst.Client.RepositoryIsNew(ctx, lw.dst.Repository)
		we.dst = &registryDestination{ep: lw.dst}
	}
	known := lw.known
	if lw.dst.New {
		known = map[string]digest.Digest{}
		for _, t := range lw.tags {
			known[t] = ""
		}
	}
	tws, changed, err := tagWrites(ctx, lw.dst, root.Digest, lw.tags, known)
	if err != nil {
		return nil, err
	}
	p := &Plan{Command: lw.command, Source: lw.source, Destination: lw.dst.String(), Digest: root.Digest,
		Kind: "list", MediaType: lw.mediaType, Entries: len(root.parsed.List.Manifests), Tags: tws}
	x := &execution{e: we}
	for _, t := range changed {
		x.tops = append(x.tops, topNode{n: root, tag: t, extra: t != lw.tags[0]})
	}
	// A tag that holds the list says the repository holds all of it.
	root.present = len(tws) > 0 && tws[0].Unchanged
	if !root.present {
		if err := we.walkEntries(ctx, &lw, root); err != nil {
			return nil, err
		}
	}
	setHeight(root)
	if x.repos, err = we.planTagRepos(ctx, p, lw.dst, root, lw.others, nil); err != nil {
		return nil, err
	}
	p.Unchanged = len(x.tops) == 0 && len(x.repos) == 0
	tops := x.tops
	if len(tops) == 0 {
		tops = []topNode{{n: root}}
	}
	if err := we.buildPlan(ctx, p, tops, lw.requests()); err != nil {
		return nil, err
	}
	if err := addTagRepos(ctx, p, x.repos); err != nil {
		return nil, err
	}
	if p.Unchanged {
		x = &execution{}
	}
	p.run = x
	return p, nil
}

// inPlace are the digests of entries in the target repository.
func (lw *listWrite) inPlace() map[digest.Digest]bool {
	in := map[digest.Digest]bool{}
	for _, en := range lw.entries {
		if en.from == nil && en.local == nil {
			in[en.desc.Digest] = true
		}
	}
	return in
}

// foreign counts the distinct entries that live elsewhere.
func (lw *listWrite) foreign() int {
	in := lw.inPlace()
	seen := map[digest.Digest]bool{}
	for _, en := range lw.entries {
		if !in[en.desc.Digest] {
			seen[en.desc.Digest] = true
		}
	}
	return len(seen)
}

// readTags reads what each tag holds ("" when missing), at once, except
// those known.
func readTags(ctx context.Context, dst Endpoint, tags []string, known map[string]digest.Digest) (map[string]digest.Digest, error) {
	held := map[string]digest.Digest{}
	var unknown []string
	for _, t := range tags {
		if d, ok := known[t]; ok {
			held[t] = d
		} else {
			unknown = append(unknown, t)
		}
	}
	got := make([]digest.Digest, len(unknown))
	err := each(ctx, SmallJobs, indexes(len(unknown)), func(ctx context.Context, i int) error {
		desc, err := dst.Client.HeadManifest(registry.AbsentIsAnswer(ctx), dst.Repository, unknown[i])
		switch {
		case err == nil:
			got[i] = desc.Digest
		case !errors.Is(err, registry.ErrNotFound):
			return fmt.Errorf("%s:%s: %w", dst, unknown[i], err)
		}
		return nil
	})
	for i, t := range unknown {
		held[t] = got[i]
	}
	return held, err
}

// walkEntries links the list's entries under root: those in the target
// repository as they are, the others read as one graph (each source
// repository with an engine of its own, what they share read once),
// skipping what the target holds.
func (we *engine) walkEntries(ctx context.Context, lw *listWrite, root *node) error {
	streams := make(chan struct{}, lw.opts.Jobs)
	// One engine per repository or local source the entries live in.
	engines := map[any]*engine{}
	inPlace := lw.inPlace()
	dst := lw.dst
	w := newGraphWalk(ctx, SmallJobs)
	if lw.local == nil && !dst.New {
		w.probe = presentProbe(dst)
	}
	nodes := map[digest.Digest]*node{}
	for _, en := range lw.entries {
		d := en.desc
		switch {
		case nodes[d.Digest] != nil:
		case inPlace[d.Digest]:
			nodes[d.Digest] = &node{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, desc: &d, present: true, inPlace: true}
		default:
			var key any = en.local
			var src source = en.local
			if en.local == nil {
				key, src = *en.from, &registrySource{ep: *en.from}
			}
			if engines[key] == nil {
				e := newEngine(src, we.dst, lw.opts, lw.stats)
				// The entries share one stream limit and the command's
				// blob transfers.
				e.streams, e.smallLimit, e.flights = streams, SmallJobs, we.flights
				engines[key] = e
			}
			nodes[d.Digest] = w.add(engines[key], &node{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Raw: en.raw, desc: &d})
		}
	}
	if err := w.wait(); err != nil {
		return err
	}
	root.children = make([]*node, len(root.parsed.List.Manifests))
	for i, d := range root.parsed.List.Manifests {
		n := nodes[d.Digest]
		if n == nil {
			return fmt.Errorf("internal: list entry %s has no source", d.Digest)
		}
		root.children[i] = n
	}
	return nil
}

// presentProbe asks dst whether it holds a manifest (a HEAD), and holds its
// answer to the descriptor that named it.
func presentProbe(dst Endpoint) func(ctx context.Context, n *node) (bool, error) {
	return func(ctx context.Context, n *node) (bool, error) {
		desc, err := dst.Client.HeadManifest(ctx, dst.Repository, n.Digest.String())
		switch {
		case err == nil:
			if n.Size > 0 && desc.Size > 0 && desc.Size != n.Size {
				return false, &CorruptError{Kind: "manifest", Digest: n.Digest, Source: dst.String(), Size: n.Size, GotSize: desc.Size}
			}
			return true, nil
		case errors.Is(err, registry.ErrNotFound):
			return false, nil
		}
		return false, err
	}
}

// transfer makes manifests ms of e's source present in dst, the
// repository e writes (--referrers: a referrer, or a cosign tag when Tag
// is set), with what they refer to, as one graph: what dst holds is
// skipped, a manifest present by digest but missing under its tag is read
// to be put.
func (e *engine) transfer(ctx context.Context, dst Endpoint, ms ...Manifest) error {
	tops, err := e.walkTops(ctx, dst, ms...)
	if err != nil {
		return err
	}
	return e.write(ctx, tops)
}

// walkTops reads the graphs below ms from e's source, each manifest the
// registry repository dst holds marked present: the reads of transfer,
// which a --referrers plan makes before its writes (see discoverReferrers).
func (e *engine) walkTops(ctx context.Context, dst Endpoint, ms ...Manifest) ([]topNode, error) {
	w := newGraphWalk(ctx, e.smallLimit)
	if !dst.New {
		w.probe = presentProbe(dst)
	}
	tops := make([]topNode, len(ms))
	for i, m := range ms {
		tops[i] = topNode{n: w.add(e, &node{Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, Raw: m.Raw}), tag: m.Tag}
	}
	if err := w.wait(); err != nil {
		return nil, err
	}
	for _, t := range tops {
		if n := t.n; t.tag != "" && n.Raw == nil {
			raw, mt, err := w.read(ctx, e, n.Digest, n.Size)
			if err != nil {
				return nil, err
			}
			if n.MediaType == "" {
				n.MediaType = manifestlist.MediaTypeOf(raw, mt)
			}
			n.Raw = raw
		}
	}
	return tops, nil
}
