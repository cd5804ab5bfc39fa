package copy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"golang.org/x/sync/errgroup"
)

// DefaultJobs is how many blob streams a copy runs at once when
// Options.Jobs is not set.
const DefaultJobs = 6

// smallPerJob is how many small requests (manifest GET/HEAD/PUT, blob
// HEAD and mount) may run per blob stream: they are not queued behind
// the streams.
const smallPerJob = 4

// SmallJobs is how many small requests a copy at DefaultJobs streams runs
// at once: callers that run Transfer per entry bound them with it.
const SmallJobs = DefaultJobs * smallPerJob

// Side is one end of a copy: a registry repository reached through a
// client (Endpoint, with Ref the tag or digest read or written), or a local
// location.
type Side struct {
	// Endpoint is set for a registry.
	Endpoint *Endpoint
	// Ref is, for a registry source, the tag or digest to copy; for a
	// registry destination, the tag to write ("" writes by digest only).
	Ref string
	// Digest, for a destination named by digest, is the digest the copy
	// must write; a copy that would write another is refused up front.
	Digest digest.Digest
	// Local is set for oci:, oci-archive: and docker-archive: locations.
	Local *Location
}

func (s Side) String() string {
	if s.Endpoint != nil {
		return s.Endpoint.String()
	}
	return s.Local.String()
}

// node is one manifest of the graph being copied.
type node struct {
	Digest    digest.Digest
	MediaType string
	Size      int64 // what the descriptor naming it says; 0 when none did
	Raw       []byte
	parsed    manifestlist.Parsed
	children  []*node
	// desc is the descriptor that named it in its list (for platforms).
	desc *imgspecv1.Descriptor
	// height is 0 for an image, 1 + the highest child for a list: writing
	// by ascending height writes children before their lists.
	height int
	// present: the destination holds it (and so everything below it).
	present bool
	// from is the source digest of a manifest rewritten by --platform or
	// a conversion; converted marks the conversion's.
	from      digest.Digest
	converted bool
	// eng is the engine whose source it was read from (its blobs are
	// there).
	eng *engine
}

// engine is one copy in progress: its two sides, limits and counters.
type engine struct {
	src   source
	dst   destination
	opts  Options
	stats *Stats
	// streams bounds blob streams to Options.Jobs; small requests use
	// errgroups of smallLimit.
	streams    chan struct{}
	smallLimit int
	// autoConvert marks a conversion the destination requires
	// (docker-archive), which keeps no digest anyway.
	autoConvert bool
	// fetchForeign: the destination must hold foreign layers too (a
	// docker-archive, which docker load reads without fetching): they are
	// fetched from their URLs (see foreignSource).
	fetchForeign bool
	// flights are the command's blob transfers under way.
	flights *blobFlights
}

func newEngine(src source, dst destination, opts Options, stats *Stats) *engine {
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = DefaultJobs
	}
	return &engine{src: src, dst: dst, opts: opts, stats: stats, streams: make(chan struct{}, jobs), smallLimit: jobs * smallPerJob, flights: &blobFlights{}}
}

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

// CopySides copies what src names, with everything it refers to, to dst.
// It plans first (reads every manifest, applies --platform and a
// conversion, checks what the destination holds) and writes nothing until
// the plan is complete; with opts.DryRun it returns the plan only.
func CopySides(ctx context.Context, src, dst Side, opts Options, stats *Stats) (Result, error) {
	if stats == nil {
		stats = &Stats{}
	}
	var sys *types.SystemContext = opts.SystemContext
	var s source
	if src.Endpoint != nil {
		s = &registrySource{ep: *src.Endpoint, ref: src.Ref}
	} else {
		ls, err := openSource(ctx, *src.Local, sys)
		if err != nil {
			return Result{}, err
		}
		s = ls
		if src.Local.Transport() == "docker-archive" {
			s = withGzipLayers(s)
		}
	}
	defer s.close()
	for _, side := range []Side{src, dst} {
		if opts.Referrers && side.Local != nil && side.Local.Transport() == "docker-archive" {
			return Result{}, fmt.Errorf("--referrers: %s holds no referrers; registries, oci: and oci-archive: layouts do", side)
		}
	}
	e := newEngine(s, nil, opts, stats)
	return e.run(ctx, src, dst)
}

func (e *engine) run(ctx context.Context, src, dst Side) (Result, error) {
	var regDst *Endpoint
	if dst.Endpoint != nil {
		ep := *dst.Endpoint
		regDst = &ep
	}
	checkDst := regDst != nil && len(e.opts.Platforms) == 0 && !e.opts.Referrers && e.opts.MediaType == ""
	var top digest.Digest
	var dstTag *registry.Descriptor
	if rs, ok := e.src.(*registrySource); ok && checkDst && dst.Ref != "" && !rs.byDigest() {
		// The destination tag first, and alone: when it holds the source's
		// digest, a HEAD of the source is all the copy reads (a GET of a
		// manifest counts as a pull against rate limits; a HEAD does not).
		// When it is missing there is nothing to compare the source with,
		// so the source is read by tag at once (the GET the copy makes
		// anyway) instead of a HEAD first, and the repository probe runs
		// meanwhile.
		desc, err := regDst.Client.HeadManifest(registry.AbsentIsAnswer(ctx), regDst.Repository, dst.Ref)
		switch {
		case err == nil:
			dstTag = &desc
		case errors.Is(err, registry.ErrNotFound):
			checkDst = false
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error {
				regDst.New = regDst.Client.RepositoryIsNew(gctx, regDst.Repository)
				return nil
			})
			g.Go(func() (err error) {
				top, err = rs.readTop(gctx)
				return err
			})
			if err := g.Wait(); err != nil {
				return Result{}, err
			}
		default:
			return Result{}, err
		}
	}
	if top == "" {
		var err error
		if top, err = e.src.resolve(ctx); err != nil {
			return Result{}, err
		}
	}
	res := Result{SourceDigest: top}
	if checkDst {
		ep := *regDst
		at := dst.Ref
		if at == "" {
			at = top.String()
		}
		var desc registry.Descriptor
		var err error
		if dstTag != nil {
			desc = *dstTag
		} else {
			desc, err = ep.Client.HeadManifest(registry.AbsentIsAnswer(ctx), ep.Repository, at)
		}
		switch {
		case err == nil && desc.Digest == top:
			res.Digest, res.Unchanged = top, true
			res.Plan = &Plan{Source: e.src.String(), Destination: ep.String(), SourceDigest: top, Digest: top, Tag: dst.Ref, Unchanged: true}
			return res, nil
		case errors.Is(err, registry.ErrNotFound):
			// A first copy into a repository without tags skips every
			// manifest existence check at the cost of this one request;
			// the blobs of an interrupted copy are found without extra
			// requests (see registryBlob).
			regDst.New = ep.Client.RepositoryIsNew(ctx, ep.Repository)
		case err != nil:
			return Result{}, err
		}
	}

	// Phase 1: the graph, read and verified.
	root, err := e.readGraph(ctx, top, dst)
	if err != nil {
		return Result{}, err
	}
	// Phase 2: conversion, for the whole graph, and its refusals. A
	// docker-archive holds Docker manifests only and keeps no digest, so an
	// OCI image going there is converted without asking.
	if dst.Local != nil && dst.Local.Transport() == "docker-archive" && e.opts.MediaType == "" && root.MediaType != manifest.DockerV2Schema2MediaType {
		e.opts.MediaType, e.autoConvert = "docker", true
	}
	e.fetchForeign = dst.Local != nil && dst.Local.Transport() == "docker-archive"
	if e.opts.MediaType != "" {
		if root, err = e.convert(ctx, root); err != nil {
			return Result{}, err
		}
	}
	var d destination
	if regDst != nil {
		d = &registryDestination{ep: *regDst}
	} else if !e.opts.DryRun {
		ld, err := openDestination(ctx, *dst.Local, e.opts.SystemContext)
		if err != nil {
			return Result{}, err
		}
		d = ld
		defer ld.close()
	}
	e.dst = d
	if d != nil && !d.holdsLists() && root.parsed.Kind == manifestlist.KindList {
		return Result{}, errors.New("internal: a list reached a single-image destination")
	}
	// Phase 3: what the destination holds.
	if regDst != nil && !regDst.New {
		if err := e.checkPresent(ctx, *regDst, root); err != nil {
			return Result{}, err
		}
	}
	plan, err := e.plan(ctx, root, src, dst, regDst)
	if err != nil {
		return Result{}, err
	}
	res.Plan, res.Digest = plan, root.Digest
	if dst.Digest != "" && dst.Digest != root.Digest {
		return Result{}, fmt.Errorf("the destination names digest %s, but the copy would write %s", dst.Digest, root.Digest)
	}
	if e.opts.DryRun {
		return res, nil
	}
	// Phase 4: write.
	ref := dst.Ref
	if e.opts.Referrers {
		ref = "" // the tag is written once the referrers are there too
	}
	if err := e.write(ctx, []topNode{{n: root, tag: ref}}); err != nil {
		return Result{}, err
	}
	if e.opts.Referrers {
		copied := []digest.Digest{}
		for _, n := range nodesOf(root) {
			copied = append(copied, n.Digest)
		}
		var orphaned digest.Digest
		if root.Digest != top {
			orphaned = top
		}
		res.Warnings = copyReferrers(ctx, e, e.referrerSource(src), e.referrerDestination(dst, d), copied, orphaned)
		if dst.Ref != "" {
			if err := d.putManifest(ctx, root.Raw, root.MediaType, root.Digest, dst.Ref, true); err != nil {
				return Result{}, err
			}
		}
	}
	if err := d.commit(ctx); err != nil {
		return Result{}, err
	}
	return res, nil
}

// readGraph reads the manifest top and everything below it, level by
// level, verifying each against the descriptor that named it; applies
// --platform; and for a single-image destination picks the one image.
func (e *engine) readGraph(ctx context.Context, top digest.Digest, dst Side) (*node, error) {
	raw, mt, err := e.src.manifest(ctx, top)
	if err != nil {
		return nil, err
	}
	root := &node{Digest: top, MediaType: mt, Raw: raw}
	if err := checkManifest(e.src.String(), Manifest{Digest: top, Raw: raw}); err != nil {
		return nil, err
	}
	if root.parsed, err = manifestlist.Parse(raw, mt); err != nil {
		return nil, fmt.Errorf("%s@%s: %w", e.src, top, err)
	}
	root.MediaType = root.parsed.MediaType
	single := dst.Local != nil && dst.Local.Transport() == "docker-archive"
	if len(e.opts.Platforms) > 0 && root.parsed.Kind != manifestlist.KindList {
		return nil, fmt.Errorf("%s@%s: --platform needs a list; this is a single image", e.src, top)
	}
	if len(e.opts.Platforms) > 0 && !single {
		m, err := subset(Manifest{Digest: root.Digest, MediaType: root.MediaType, Raw: root.Raw}, e.opts.Platforms)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", e.src, top, err)
		}
		if m.Digest != root.Digest {
			root = &node{Digest: m.Digest, MediaType: m.MediaType, Raw: m.Raw, from: top}
			if root.parsed, err = manifestlist.Parse(m.Raw, m.MediaType); err != nil {
				return nil, err
			}
		}
	}
	if single && root.parsed.Kind == manifestlist.KindList {
		if len(e.opts.Platforms) != 1 {
			return nil, fmt.Errorf("a docker-archive holds one image; choose it with --platform (%s@%s is a list of %s)", e.src, top, entriesText(root.parsed.List))
		}
		d, err := e.chooseImage(ctx, root.parsed.List, e.opts.Platforms[0], 1, map[digest.Digest]bool{})
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", e.src, top, err)
		}
		child, ctype, err := e.src.manifest(ctx, d.Digest)
		if err != nil {
			return nil, err
		}
		if err := checkManifest(e.src.String(), Manifest{Digest: d.Digest, Size: d.Size, Raw: child}); err != nil {
			return nil, err
		}
		root = &node{Digest: d.Digest, MediaType: ctype, Raw: child, Size: d.Size, desc: &d}
		if root.parsed, err = manifestlist.Parse(child, ctype); err != nil {
			return nil, err
		}
		root.MediaType = root.parsed.MediaType
	}

	w := newGraphWalk(ctx, e.smallLimit)
	if !e.dstHoldsLists(dst) {
		w.check = func(n *node) error {
			if n.parsed.Kind == manifestlist.KindList {
				return fmt.Errorf("%s holds a single image; %s is a list", dst, n.Digest)
			}
			return nil
		}
	}
	root = w.add(e, root)
	if err := w.wait(); err != nil {
		return nil, err
	}
	return root, nil
}

func (e *engine) dstHoldsLists(dst Side) bool {
	return dst.Local == nil || dst.Local.Transport() != "docker-archive"
}

// chooseImage picks the image of a list that a runtime would run on p,
// looking into nested lists (an index whose entries are indexes) when the
// list itself has no image for p. A nested list is looked into once
// however often it repeats: tried holds those without one.
func (e *engine) chooseImage(ctx context.Context, l *manifestlist.List, p imgspecv1.Platform, depth int, tried map[digest.Digest]bool) (imgspecv1.Descriptor, error) {
	match := manifestlist.OnlyPlatform(p)
	if i := match.Best(l.Manifests); i >= 0 && !manifestlist.IsList(l.Manifests[i].MediaType) {
		return l.Manifests[i], nil
	}
	for _, d := range l.Manifests {
		if !manifestlist.IsList(d.MediaType) || (d.Platform != nil && !match.Match(d.Platform)) || tried[d.Digest] {
			continue
		}
		if depth >= maxNesting {
			return imgspecv1.Descriptor{}, ErrTooDeep
		}
		tried[d.Digest] = true
		raw, mt, err := e.src.manifest(ctx, d.Digest)
		if err != nil {
			return imgspecv1.Descriptor{}, err
		}
		if err := checkManifest(e.src.String(), Manifest{Digest: d.Digest, Size: d.Size, Raw: raw}); err != nil {
			return imgspecv1.Descriptor{}, err
		}
		inner, err := manifestlist.Parse(raw, mt)
		if err != nil {
			return imgspecv1.Descriptor{}, fmt.Errorf("nested list %s: %w", d.Digest, err)
		}
		if inner.Kind != manifestlist.KindList {
			continue
		}
		if c, err := e.chooseImage(ctx, inner.List, p, depth+1, tried); err == nil {
			return c, nil
		} else if !errors.Is(err, errNoImage) {
			return imgspecv1.Descriptor{}, err
		}
	}
	return imgspecv1.Descriptor{}, fmt.Errorf("%w for platform %s; the list has %s", errNoImage, manifestlist.FormatPlatform(&p), entriesText(l))
}

// checkPresent asks a registry destination, top-down, which manifests it
// holds: a list it holds needs nothing below it.
func (e *engine) checkPresent(ctx context.Context, dst Endpoint, root *node) error {
	level := []*node{root}
	seen := map[*node]bool{root: true}
	for len(level) > 0 {
		err := each(ctx, e.smallLimit, level, func(ctx context.Context, n *node) error {
			desc, err := dst.Client.HeadManifest(ctx, dst.Repository, n.Digest.String())
			switch {
			case err == nil:
				if n.Size > 0 && desc.Size > 0 && desc.Size != n.Size {
					// The same digest, so the same bytes: the descriptor is wrong.
					return &CorruptError{Kind: "manifest", Digest: n.Digest, Source: dst.String(), Size: n.Size, GotSize: desc.Size}
				}
				n.present = true
			case !errors.Is(err, registry.ErrNotFound):
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		var next []*node
		for _, n := range level {
			if n.present {
				continue
			}
			for _, c := range n.children {
				if !seen[c] {
					seen[c] = true
					next = append(next, c)
				}
			}
		}
		level = next
	}
	return nil
}
