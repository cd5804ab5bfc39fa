package copy

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// discover finds every level of what refers to digests and reads what
// the run writes of it: the source's tag listing, each subject's referrers
// and cosign tags, the tagged manifests, and, with walk (a registry
// destination), the referrers' graphs and whether dst holds them, and
// whether the destination has the referrers API; with r.planned (a plan
// into a layout), the referrers' graphs. These are the reads the
// copy makes whenever it makes them, so a plan makes them (and counts
// them) and the run does not again (see indexRequests); held, when set,
// is a manifest dst holds, which it is asked about. Each level's
// subjects are the referrers of the last, as if every write succeeds.
func (r *referrerCopy) discover(ctx context.Context, digests []digest.Digest, orphaned []digest.Digest, walk *Endpoint, held digest.Digest) {
	r.walk = walk
	if tags, err := r.src.tags(ctx); err != nil {
		r.warn("cosign signatures and attestations (sha256-<digest>.sig/.att/.sbom tags) not looked for: %v", err)
	} else {
		r.tags = map[string]bool{}
		for _, t := range tags {
			r.tags[t] = true
		}
	}
	for _, d := range digests {
		r.seen[d] = true
	}
	for _, o := range orphaned {
		if a := r.find(ctx, o); len(a.refs)+len(a.tags) > 0 {
			r.warn("referrers (%d) and cosign tags (%d) of the source list %s left behind: --platform writes another list", len(a.refs), len(a.tags), o)
		}
	}
	subjects := digests
	for depth := 0; len(subjects) > 0 && depth < referrersDepth && ctx.Err() == nil; depth++ {
		l := r.discoverLevel(ctx, subjects)
		r.levels = append(r.levels, l)
		subjects = l.next(r)
	}
	// A registry with the API may answer 404 for a manifest it does not
	// hold (go-containerregistry's does): the destination is asked about
	// one it holds, else the run asks once its referrers are there.
	if _, ok := r.firstSubject(); ok && walk != nil && held != "" {
		r.destinationHasAPI(ctx, held)
	}
}

// firstSubject is the first subject discover found referrers of.
func (r *referrerCopy) firstSubject() (digest.Digest, bool) {
	for _, l := range r.levels {
		for _, a := range l.found {
			if len(a.refs) > 0 {
				return a.subject, true
			}
		}
	}
	return "", false
}

// referrerLevel is what refers directly to one level's subjects, and its
// transfers.
type referrerLevel struct {
	found  []attached
	jobs   []*referrerJob
	queued map[digest.Digest]*referrerJob
}

// referrerJob is the transfer of one referrer or cosign tag.
type referrerJob struct {
	m       Manifest
	subject digest.Digest
	digest  digest.Digest // of a tagged manifest, once read
	err     error
	// tops are m's graph, walked by discover (a registry destination).
	tops []topNode
}

// discoverLevel finds what refers directly to subjects and reads it.
func (r *referrerCopy) discoverLevel(ctx context.Context, subjects []digest.Digest) *referrerLevel {
	found := make([]attached, len(subjects))
	rest := subjects
	if r.sourceAPI() == nil {
		// The first answer says whether the source has the API at all;
		// asking for every subject at once would collect a 404 for each.
		found[0] = r.find(ctx, subjects[0])
		rest = subjects[1:]
	}
	idx := make([]int, len(rest))
	for i := range idx {
		idx[i] = len(subjects) - len(rest) + i
	}
	_ = each(ctx, r.limit, idx, func(ctx context.Context, i int) error {
		found[i] = r.find(ctx, subjects[i])
		return nil
	})

	l := &referrerLevel{found: found, queued: map[digest.Digest]*referrerJob{}}
	for _, a := range found {
		for _, t := range a.tags {
			l.jobs = append(l.jobs, &referrerJob{m: Manifest{Tag: t}, subject: a.subject})
		}
		for _, d := range a.refs {
			if l.queued[d.Digest] != nil || r.markSeen(d.Digest) {
				continue
			}
			l.queued[d.Digest] = &referrerJob{m: Manifest{Digest: d.Digest, MediaType: d.MediaType}, subject: a.subject, digest: d.Digest}
			l.jobs = append(l.jobs, l.queued[d.Digest])
		}
	}
	_ = each(ctx, r.limit, l.jobs, func(ctx context.Context, j *referrerJob) error {
		if j.m.Tag != "" {
			raw, desc, err := r.src.manifestByTag(ctx, j.m.Tag)
			if err != nil {
				j.err = err
				return nil
			}
			j.m.Digest, j.m.MediaType, j.m.Raw = desc.Digest, desc.MediaType, raw
			j.digest = desc.Digest
		}
		switch {
		case r.walk != nil:
			j.tops, j.err = r.e.walkTops(ctx, *r.walk, j.m)
		case r.planned:
			// A layout is asked nothing: what it holds is looked up on
			// disk (see layoutHolds).
			j.tops, j.err = r.e.walkTops(ctx, Endpoint{New: true}, j.m)
		}
		return nil
	})
	return l
}

// next are the subjects of the level after l: what l copies, once each.
func (l *referrerLevel) next(r *referrerCopy) []digest.Digest {
	var next []digest.Digest
	for _, j := range l.jobs {
		if j.err == nil && (j.m.Tag == "" || !r.markSeen(j.digest)) {
			next = append(next, j.digest)
		}
	}
	return next
}

// tops are the graphs the run writes, walked by discover.
func (r *referrerCopy) tops() []topNode {
	var out []topNode
	for _, l := range r.levels {
		for _, j := range l.jobs {
			if j.err == nil {
				out = append(out, j.tops...)
			}
		}
	}
	return out
}

// referrersAPILeftOut is what it does not know when another registry's
// repository holds none of the image: a registry may answer its referrers
// API with 404 for a manifest it does not hold.
const referrersAPILeftOut = "--referrers into another registry that holds none of the image: whether it serves the referrers API is asked once the image is there; its tag-schema index requests (a GET and a PUT per subject with referrers) are counted as if it does not"

// referrerSubjects are the digests whose referrers a --referrers copy
// copies (the root's graph) and the source list --platform replaced, if
// any, whose referrers are left behind.
func (x *execution) referrerSubjects() (copied, orphaned []digest.Digest) {
	if x.root.Digest != x.top {
		orphaned = []digest.Digest{x.top}
	}
	return subjectsOf(x.root), orphaned
}

// subjectsOf are the digests of the graphs below roots, once each.
func subjectsOf(roots ...*node) []digest.Digest {
	out := []digest.Digest{}
	for _, n := range nodesOf(roots...) {
		out = append(out, n.Digest)
	}
	return out
}

// planReferrers finds, for a --referrers copy from src into the registry
// repository dst (nil: a local layout, opened by Execute), what refers to
// the graphs of roots (a copy's root, or every root of a mirror) and reads
// it (see referrerCopy.discover): the reads the copy makes anyway, made
// before the image's writes instead of after, so the plan counts them and
// predicts the referrers' writes like the image's (buildPlan, with the
// graphs of tops), and the run makes them once. The source holds the
// referrers already, so finding them first finds what finding them after
// would. orphaned are source manifests --platform or --media-type replaced.
func (e *engine) planReferrers(ctx context.Context, p *Plan, src Side, roots []*node, orphaned []digest.Digest, dst *Endpoint) *referrerCopy {
	r := newReferrerCopy(e, e.referrerSource(src), nil)
	copied := subjectsOf(roots...)
	if dst == nil {
		r.planned = true
		r.discover(ctx, copied, orphaned, nil, "")
		p.Warnings = r.warnings
		return r
	}
	r.dst = registryReferrers{ep: *dst}
	var held digest.Digest
	holds := presentNodes(roots...)
	for _, n := range nodesOf(roots...) {
		if holds[n] {
			held = n.Digest
			break
		}
	}
	r.discover(ctx, copied, orphaned, dst, held)
	p.Warnings = r.warnings
	return r
}

// referrerRequests are a --referrers plan's requests after its writes
// (see indexRequests); it names in p what it leaves out. A layout's
// writes and its tag-schema indexes cost no request.
func (x *execution) referrerRequests(ctx context.Context, p *Plan) int {
	if x.refs == nil || x.refs.walk == nil {
		return 0
	}
	n, leftOut := x.refs.indexRequests(ctx, x.e.opts.DryRun, x.e.sameHost(x.e))
	p.RequestsLeftOut = leftOut
	return n
}

// indexRequests are the requests the run makes for the destination's
// referrers API probe, when the plan did not make it, and for its
// tag-schema indexes, when it has no referrers API: for each subject with
// referrers, the GET of its index and, when the index lacks one of them,
// the PUT. A dry run reads the indexes to know (reads the run makes too,
// not counted twice); a run's own plan predicts each lacks one, as it
// predicts blobs missing, except in a repository without tags, which
// holds no index. When the destination holds none of the image the plan
// has not asked whether it has the API: within one registry it answers as
// the source did; in another, it is predicted to have none, and leftOut
// says so.
func (r *referrerCopy) indexRequests(ctx context.Context, dryRun, sameHost bool) (n int, leftOut string) {
	if _, ok := r.firstSubject(); !ok {
		return 0, ""
	}
	api := r.dstAPI
	if api == nil {
		n++ // the run's probe
		switch {
		case sameHost && r.srcAPI != nil:
			api = r.srcAPI
		default:
			api, leftOut = new(bool), referrersAPILeftOut
		}
	}
	if *api {
		return n, leftOut
	}
	for _, l := range r.levels {
		for _, a := range l.found {
			copied := l.copied(a)
			if len(copied) == 0 {
				continue
			}
			n++ // the GET
			if !dryRun || r.walk.New {
				n++
				continue
			}
			held, err := r.dst.referrersByTag(ctx, a.subject)
			if err != nil {
				n++
				continue
			}
			listed := map[digest.Digest]bool{}
			for _, d := range held {
				listed[d.Digest] = true
			}
			for _, d := range copied {
				if !listed[d.Digest] {
					n++
					break
				}
			}
		}
	}
	return n, leftOut
}
