package copy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// TagFilter selects the tags of a mirror: a tag is taken when it matches
// any Include (or there is none) and no Exclude. The expressions are not
// anchored: "^v1" takes v1.0 and v10, "^v1$" only v1.
type TagFilter struct {
	Include, Exclude []*regexp.Regexp
}

// Takes says whether the filter takes tag.
func (f TagFilter) Takes(tag string) bool {
	in := len(f.Include) == 0
	for _, re := range f.Include {
		in = in || re.MatchString(tag)
	}
	for _, re := range f.Exclude {
		in = in && !re.MatchString(tag)
	}
	return in
}

// mirrorTag is what a mirror learns of one tag before it plans the write.
type mirrorTag struct {
	tag      string
	old, new digest.Digest
	// raw and mediaType are the source manifest when it was read by tag.
	raw       []byte
	mediaType string
	unchanged bool
	err       error
	// from is the source digest when --platform or --media-type writes
	// another; whole: --platform found a single image, copied as it is.
	from  digest.Digest
	whole bool
}

// PlanMirror plans copying every tag of src (a registry repository or an
// oci: layout) that filter takes to dst (the same kinds, a layout getting
// one index.json name per tag) as one plan with one root per tag: what the tags share is read and
// written once. It reads one tag list per side, and per tag: a GET of the
// source when the destination lacks the tag, else a HEAD on each side and,
// only when they differ, the source's manifests. A tag whose source cannot
// be read fails alone: the plan names it (TagWrite.Error) and the others
// are written. --platform subsets each tag's list (a single image is
// copied as it is) and --media-type converts each tag's graph, what tags
// share converted once; both write other digests than the source's, so
// every source tag is read by GET (not HEAD) and, with --media-type, every
// graph is read, to know what the destination should hold. --referrers
// copies what refers to the graphs of the tags it writes (not of those the
// destination holds already), and leaves the source's referrer tags
// (sha256-<hex>[.sig|.att|.sbom]) to that rather than copying them as tags.
func PlanMirror(ctx context.Context, src, dst Side, filter TagFilter, opts Options, stats *Stats) (*Plan, error) {
	for _, side := range []Side{src, dst} {
		if side.Local != nil && side.Local.Transport() != "oci" {
			return nil, fmt.Errorf("--all-tags copies between registry repositories and oci: layouts; %s is neither", side)
		}
	}
	if stats == nil {
		stats = &Stats{}
	}
	cs := clients(src, dst)
	before := requestsOf(cs)

	var srcTags []string
	// The tags a layout names, with their digests; a registry
	// destination's digests are not known until asked.
	var srcHeld, held map[string]digest.Digest
	var regDst *Endpoint
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if src.Endpoint != nil {
			srcTags, err = src.Endpoint.Client.Tags(gctx, src.Endpoint.Repository, 0)
			return err
		}
		if srcHeld, err = layoutTags(*src.Local); err != nil {
			return err
		}
		for t := range srcHeld {
			srcTags = append(srcTags, t)
		}
		slices.Sort(srcTags)
		return nil
	})
	g.Go(func() (err error) {
		if dst.Endpoint != nil {
			ep := *dst.Endpoint
			held, ep.New, err = registryTags(gctx, ep)
			regDst = &ep
			return err
		}
		held, err = layoutTags(*dst.Local)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var s source = &registrySource{}
	if src.Endpoint != nil {
		s = &registrySource{ep: *src.Endpoint}
	} else if len(srcTags) > 0 {
		// Any name opens the layout: every manifest and blob of it is read
		// by digest.
		loc, err := ParseLocation(strings.TrimSuffix(src.Local.String(), ":") + ":" + srcTags[0])
		if err != nil {
			return nil, err
		}
		if s, err = openSource(ctx, loc, opts.SystemContext); err != nil {
			return nil, err
		}
	}
	e := newEngine(s, nil, opts, stats)
	p, err := e.planMirror(ctx, src, dst, filter, srcTags, srcHeld, regDst, held, func() int { return requestsOf(cs) - before })
	if err != nil {
		s.close()
		return nil, err
	}
	p.run.closeSource = s.close
	return p, nil
}

func (e *engine) planMirror(ctx context.Context, src, dst Side, filter TagFilter, srcTags []string, srcHeld map[string]digest.Digest, regDst *Endpoint, held map[string]digest.Digest, reads func() int) (*Plan, error) {
	var tags []*mirrorTag
	for _, t := range srcTags {
		if filter.Takes(t) && !(e.opts.Referrers && isReferrerTag(t)) {
			tags = append(tags, &mirrorTag{tag: t})
		}
	}
	_ = each(ctx, e.smallLimit, tags, func(ctx context.Context, t *mirrorTag) error {
		e.learnTag(ctx, t, srcHeld, regDst, held)
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The graphs of the tags that change, read as one: a failing one is
	// found by reading each alone, and the others are read again together.
	todo := tagsToWrite(tags)
	tops, err := e.walkTags(ctx, todo, regDst)
	if err != nil {
		_ = each(ctx, smallPerJob, todo, func(ctx context.Context, t *mirrorTag) error {
			if _, err := e.walkTags(ctx, []*mirrorTag{t}, regDst); err != nil {
				t.err = err
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		todo = tagsToWrite(tags)
		if tops, err = e.walkTags(ctx, todo, regDst); err != nil {
			return nil, err
		}
	}
	if e.opts.MediaType != "" {
		if todo, tops, err = e.convertTags(ctx, todo, tops, regDst); err != nil {
			return nil, err
		}
	}
	if regDst != nil {
		e.dst = &registryDestination{ep: *regDst}
	}
	if dst.Local != nil && dst.Local.Transport() == "oci" {
		e.layoutBlobs = dst.Local.path() // the blobs it holds are not read
	}

	p := &Plan{Command: "mirror", Source: src.String(), Destination: dst.String(), Converted: e.opts.MediaType, Manifests: []PlanManifest{}, Blobs: []PlanBlob{}}
	prefix := dst.String() + ":"
	if dst.Local != nil {
		prefix = strings.TrimSuffix(dst.String(), ":") + ":"
	}
	var writes []topNode
	for _, t := range tags {
		tw := TagWrite{Tag: prefix + t.tag, Old: t.old, New: t.new, Unchanged: t.unchanged}
		if t.whole {
			tw.Note = "a single image: --platform subsets lists, so it is copied whole"
		}
		if t.err != nil {
			tw.Error = t.err.Error()
		}
		p.Tags = append(p.Tags, tw)
	}
	for i, t := range todo {
		writes = append(writes, topNode{n: tops[i], tag: t.tag})
	}
	e.stats.add(func(s *Stats) { s.Tags = len(writes) })
	p.Unchanged = len(writes) == 0 && len(p.Failed()) == 0
	x := &execution{e: e, tops: writes, src: src, dst: dst}
	writeTops := writes
	if e.opts.Referrers {
		writeTops = e.planMirrorReferrers(ctx, p, x, regDst)
	}
	if err := e.buildPlan(ctx, p, writeTops, reads()); err != nil {
		return nil, err
	}
	if e.opts.Referrers && regDst != nil {
		p.Requests += len(writes) + x.referrerRequests(ctx, p)
	}
	p.run = &execution{}
	if len(writes) > 0 {
		p.run = x
	}
	return p, nil
}

// Failed are the tags the plan cannot write: their sources failed.
func (p *Plan) Failed() []TagWrite {
	var out []TagWrite
	for _, t := range p.Tags {
		if t.Error != "" {
			out = append(out, t)
		}
	}
	return out
}

// registryTags lists the tags of a destination repository; new says it
// does not exist yet (a first mirror then skips every existence check).
func registryTags(ctx context.Context, ep Endpoint) (tags map[string]digest.Digest, isNew bool, err error) {
	list, err := ep.Client.Tags(registry.AbsentIsAnswer(ctx), ep.Repository, 0)
	var re *registry.Error
	switch {
	case errors.As(err, &re) && re.Code == "NAME_UNKNOWN":
		return map[string]digest.Digest{}, true, nil
	case errors.Is(err, registry.ErrNotFound):
		return map[string]digest.Digest{}, false, nil
	case err != nil:
		return nil, false, err
	}
	tags = map[string]digest.Digest{}
	for _, t := range list {
		tags[t] = ""
	}
	return tags, false, nil
}

// layoutTags are the names of an oci: layout's index.json, with their
// digests; a layout not written yet has none.
func layoutTags(loc Location) (map[string]digest.Digest, error) {
	dir, image, _ := strings.Cut(loc.Image.StringWithinTransport(), ":")
	if image != "" {
		return nil, fmt.Errorf("--all-tags names each tag in the layout; give oci:%s without a tag", dir)
	}
	idx, err := readLayoutIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	tags := map[string]digest.Digest{}
	for _, m := range idx.Manifests {
		if name := m.Annotations[imgspecv1.AnnotationRefName]; name != "" {
			tags[name] = m.Digest
		}
	}
	return tags, nil
}

// learnTag finds what t holds on each side: a tag the destination lacks is
// read from a registry source by tag (the GET the copy makes anyway); else
// a HEAD of each side, and the source is read only when they differ. What
// a layout names costs no request.
func (e *engine) learnTag(ctx context.Context, t *mirrorTag, srcHeld map[string]digest.Digest, dst *Endpoint, held map[string]digest.Digest) {
	old, has := held[t.tag]
	var dstErr error
	var wg sync.WaitGroup
	if has && dst != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := dst.Client.HeadManifest(registry.AbsentIsAnswer(ctx), dst.Repository, t.tag)
			old, dstErr = d.Digest, err
			if errors.Is(err, registry.ErrNotFound) {
				old, dstErr = "", nil // deleted since the listing
			}
		}()
	}
	var srcErr error
	switch rs, _ := e.src.(*registrySource); {
	case srcHeld != nil:
		t.new = srcHeld[t.tag]
	case !has || e.rewrites():
		raw, desc, err := rs.ep.Client.GetManifest(ctx, rs.ep.Repository, t.tag)
		if err == nil {
			err = checkManifest(rs.ep.String()+":"+t.tag, Manifest{Digest: desc.Digest, Raw: raw})
		}
		t.new, t.raw, t.mediaType, srcErr = desc.Digest, raw, desc.MediaType, err
	default:
		d, err := rs.ep.Client.HeadManifest(ctx, rs.ep.Repository, t.tag)
		t.new, srcErr = d.Digest, err
	}
	if srcErr == nil && e.rewrites() && t.raw == nil {
		// A layout's tag: its digest is known, its bytes are not.
		var root *node
		if root, srcErr = e.readRoot(ctx, t.new); srcErr == nil {
			t.raw, t.mediaType = root.Raw, root.MediaType
		}
	}
	if srcErr == nil && len(e.opts.Platforms) > 0 {
		srcErr = t.subset(e.opts.Platforms)
	}
	wg.Wait()
	t.old, t.err = old, errors.Join(srcErr, dstErr)
	// With --media-type what the tag should hold is known once its graph
	// is converted (planMirror).
	t.unchanged = t.err == nil && old == t.new && e.opts.MediaType == ""
	if t.err != nil {
		t.raw = nil
	}
}

// tagsToWrite are the tags whose source was read and which change.
func tagsToWrite(tags []*mirrorTag) []*mirrorTag {
	var out []*mirrorTag
	for _, t := range tags {
		if t.err == nil && !t.unchanged {
			out = append(out, t)
		}
	}
	return out
}

// walkTags reads the graphs below the tags as one walk (each manifest once
// across all of them), skipping what a registry destination holds (dst,
// unless nil or new), and returns each tag's top node. A top the
// destination holds is read all the same: it is put under its tag.
func (e *engine) walkTags(ctx context.Context, tags []*mirrorTag, dst *Endpoint) ([]*node, error) {
	w := newGraphWalk(ctx, e.smallLimit)
	if dst != nil && !dst.New && e.opts.MediaType == "" {
		// A conversion needs every manifest's bytes, whatever the
		// destination holds.
		w.probe = presentProbe(*dst)
	}
	tops := make([]*node, len(tags))
	// Every top that was read by tag is linked before any list is walked:
	// a list's entry that is also a tag is not read again.
	fresh := make([]bool, len(tags))
	for i, t := range tags {
		tops[i], fresh[i] = w.link(e, &node{Digest: t.new, MediaType: t.mediaType, Raw: t.raw, from: t.from})
	}
	w.tops = slices.Clone(tops)
	for i, n := range tops {
		if fresh[i] {
			w.g.Go(func() error { return w.visit(n, 0) })
		}
	}
	if err := w.wait(); err != nil {
		return nil, err
	}
	err := each(ctx, e.smallLimit, tops, func(ctx context.Context, n *node) error {
		if n.Raw == nil {
			raw, mt, err := w.read(ctx, e, n.Digest, n.Size)
			if err != nil {
				return err
			}
			n.Raw, n.MediaType = raw, manifestlist.MediaTypeOf(raw, mt)
		}
		if n.parsed.MediaType == "" {
			p, err := manifestlist.Parse(n.Raw, n.MediaType)
			if err != nil {
				return fmt.Errorf("%s@%s: %w", e.src, n.Digest, err)
			}
			n.parsed = p
		}
		return nil
	})
	return tops, err
}
