package copy

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"golang.org/x/sync/errgroup"
)

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
	// inPlace: an entry of a push or merge that lives in the target
	// repository (present, and never looked for).
	inPlace bool
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
	// before, when set, runs right before write puts the first tag.
	before func(ctx context.Context) error
	// layoutBlobs is the directory of the OCI layout (oci:) a copy writes
	// in place: the plan looks there for the blobs it holds.
	layoutBlobs string
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

// CopySides copies what src names, with everything it refers to, to dst:
// PlanCopy, then, unless opts.DryRun, Execute of that plan.
func CopySides(ctx context.Context, src, dst Side, opts Options, stats *Stats) (Result, error) {
	p, err := PlanCopy(ctx, src, dst, opts, stats)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	res := Result{Plan: p, Digest: p.Digest, SourceDigest: p.SourceDigest, Unchanged: p.Unchanged}
	if opts.DryRun {
		return res, nil
	}
	err = Execute(ctx, p)
	res.Warnings = p.Warnings
	return res, err
}

// PlanCopy plans copying what src names, with everything it refers to, to
// dst: it reads every manifest, applies --platform and a conversion, and
// checks what the destination holds, and writes nothing. Execute carries
// the plan out; Close releases a local source either way.
func PlanCopy(ctx context.Context, src, dst Side, opts Options, stats *Stats) (*Plan, error) {
	if stats == nil {
		stats = &Stats{}
	}
	var sys *types.SystemContext = opts.SystemContext
	var s source
	if src.Endpoint != nil {
		s = &registrySource{ep: *src.Endpoint, ref: src.Ref}
	} else {
		ls, err := openTransferSource(ctx, *src.Local, sys)
		if err != nil {
			return nil, err
		}
		s = ls
	}
	if len(opts.Tags) > 0 && dst.Endpoint == nil {
		s.close()
		return nil, fmt.Errorf("-t: %s is not a registry; extra tags are written to registries", dst)
	}
	for _, side := range []Side{src, dst} {
		if opts.Referrers && side.Local != nil && side.Local.Transport() == "docker-archive" {
			s.close()
			return nil, fmt.Errorf("--referrers: %s holds no referrers; registries, oci: and oci-archive: layouts do", side)
		}
	}
	e := newEngine(s, nil, opts, stats)
	p, err := e.planCopy(ctx, src, dst)
	if err != nil {
		s.close()
		return nil, err
	}
	p.run.closeSource = s.close
	return p, nil
}

func (e *engine) planCopy(ctx context.Context, src, dst Side) (*Plan, error) {
	cs := clients(src, dst)
	before := requestsOf(cs)
	reads := func() int { return requestsOf(cs) - before }
	var regDst *Endpoint
	if dst.Endpoint != nil {
		ep := *dst.Endpoint
		regDst = &ep
	}
	checkDst := regDst != nil && len(e.opts.Platforms) == 0 && !e.opts.Referrers && e.opts.MediaType == ""
	var top digest.Digest
	var dstTag *registry.Descriptor
	// tagHeld is what the destination tag held, "" when it is new: read
	// with the HEAD of the common path, or (--platform, --referrers,
	// --media-type) with one of its own, to say whether the tag moves.
	var tagHeld digest.Digest
	tagRead := false
	// dstHolds: the destination holds top (an extra tag differs): of the
	// graph only top is read, to be put under the tags.
	dstHolds := false
	// extraHeld is what the extra tags hold, by repository and tag, once
	// read.
	var extraHeld map[string]map[string]digest.Digest
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
			tagHeld, tagRead = desc.Digest, true
		case errors.Is(err, registry.ErrNotFound):
			tagRead = true
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
				return nil, err
			}
		default:
			return nil, err
		}
	}
	if top == "" {
		var err error
		if top, err = e.src.resolve(ctx); err != nil {
			return nil, err
		}
	}
	if checkDst && dst.Digest != "" && dst.Digest != top {
		// Refused before the destination is read: it holds top or not,
		// the copy cannot put it under another digest.
		return nil, fmt.Errorf("the destination names digest %s, but the copy would write %s", dst.Digest, top)
	}
	tag := ""
	if regDst != nil {
		tag = dst.Ref
	}
	p := &Plan{Command: "copy", Source: e.src.String(), Destination: dst.String(), SourceDigest: top, Digest: top, Converted: e.opts.MediaType}
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
			// The extra tags are read now: when they hold top too, the
			// copy is done.
			if extraHeld, err = readExtraTags(ctx, ep, e.opts.Tags); err != nil {
				return nil, err
			}
			if !holdAll(extraHeld, top) {
				if dst.Ref != "" {
					tagHeld, tagRead = top, true
				}
				dstHolds = true
				break
			}
			e.heldPlan(p, ep, tag, top, reads())
			return p, nil
		case errors.Is(err, registry.ErrNotFound):
			// A first copy into a repository without tags skips every
			// manifest existence check at the cost of this one request;
			// the blobs of an interrupted copy are found without extra
			// requests (see registryBlob).
			regDst.New = ep.Client.RepositoryIsNew(ctx, ep.Repository)
		case err != nil:
			return nil, err
		}
	}
	if tag != "" && !tagRead {
		desc, err := regDst.Client.HeadManifest(registry.AbsentIsAnswer(ctx), regDst.Repository, tag)
		switch {
		case err == nil:
			tagHeld = desc.Digest
		case !errors.Is(err, registry.ErrNotFound):
			return nil, err
		}
	}

	// Phase 1: the graph, read and verified.
	var root *node
	var err error
	if dstHolds {
		root, err = e.readRoot(ctx, top)
	} else {
		root, err = e.readGraph(ctx, top, dst)
	}
	if err != nil {
		return nil, err
	}
	// Phase 2: conversion, for the whole graph, and its refusals. A
	// docker-archive holds Docker manifests only and keeps no digest, so an
	// OCI image going there is converted without asking.
	if dst.Local != nil && dst.Local.Transport() == "docker-archive" && e.opts.MediaType == "" && root.MediaType != manifest.DockerV2Schema2MediaType {
		e.opts.MediaType, e.autoConvert = "docker", true
	}
	e.fetchForeign = dst.Local != nil && dst.Local.Transport() == "docker-archive"
	if dst.Local != nil && dst.Local.Transport() == "oci" {
		e.layoutBlobs = dst.Local.path()
	}
	if e.opts.MediaType != "" {
		if root, err = e.convert(ctx, root); err != nil {
			return nil, err
		}
	}
	if regDst != nil {
		// A local destination is opened by Execute: a dry run writes nothing.
		e.dst = &registryDestination{ep: *regDst}
	}
	if !e.dstHoldsLists(dst) && root.parsed.Kind == manifestlist.KindList {
		return nil, errors.New("internal: a list reached a single-image destination")
	}
	// Phase 3: what the destination holds.
	root.present = root.present || dstHolds
	if regDst != nil && !regDst.New && !dstHolds {
		if err := e.checkPresent(ctx, *regDst, root); err != nil {
			return nil, err
		}
	}
	if dst.Digest != "" && dst.Digest != root.Digest {
		return nil, fmt.Errorf("the destination names digest %s, but the copy would write %s", dst.Digest, root.Digest)
	}
	p.Digest, p.Kind, p.MediaType, p.Converted = root.Digest, root.parsed.Kind.String(), root.MediaType, e.opts.MediaType
	if root.from != "" {
		p.SourceDigest = root.from
	}
	if root.parsed.Kind == manifestlist.KindList {
		p.Entries = len(root.parsed.List.Manifests)
	}
	x := &execution{e: e, root: root, src: src, dst: dst, top: top}
	if regDst != nil {
		if err := e.planCopyTags(ctx, p, x, *regDst, tag, tagHeld, extraHeld); err != nil {
			return nil, err
		}
	}
	p.Unchanged = root.present && len(x.tops) == 0 && len(x.repos) == 0 && !e.opts.Referrers
	writeTops := x.tops
	if len(writeTops) == 0 || e.opts.Referrers {
		// With --referrers the root is written by digest, and its tags
		// once the referrers are there (see Execute).
		writeTops = []topNode{{n: root}}
	}
	if e.opts.Referrers && (regDst != nil || src.Endpoint != nil) {
		// Into a layout from a layout nothing is counted: found then.
		_, orphaned := x.referrerSubjects()
		x.refs = e.planReferrers(ctx, p, src, []*node{root}, orphaned, regDst)
		writeTops = append(writeTops, x.refs.tops()...)
	}
	// The plan's reads end here: a dry run's look at the blobs is not the
	// run's.
	n := reads()
	if err := e.buildPlan(ctx, p, writeTops, n); err != nil {
		return nil, err
	}
	if e.opts.Referrers {
		p.Requests += len(x.tops) + x.referrerRequests(ctx, p)
	}
	if err := addTagRepos(ctx, p, x.repos); err != nil {
		return nil, err
	}
	p.run = x
	return p, nil
}
