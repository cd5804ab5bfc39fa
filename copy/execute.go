package copy

import (
	"context"
	"errors"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
)

// execution is what Execute needs of a plan: the engine that writes, the
// tops it writes and, for a copy, its sides.
type execution struct {
	e *engine
	// tops are written by write: a push's or merge's list under its tags,
	// a copy's root under its.
	tops []topNode
	// before, when set, runs right before the first tag is written: a
	// merge checks that DESTINATION has not changed.
	before func(ctx context.Context) error
	// A copy's: root is written under the tags of tops (none when by
	// digest only or the tags hold it already); top is the source's
	// digest.
	root     *node
	src, dst Side
	top      digest.Digest
	// closeSource releases a local source.
	closeSource func()
	// repos are other repositories that get the root under extra tags,
	// written after the destination.
	repos []tagRepo
	// refs are what a --referrers copy from or into a registry found to
	// refer to the root, read by its plan (see planReferrers).
	refs *referrerCopy
}

// Execute carries out a plan PlanCopy, PlanPush or PlanMerge made: it
// writes exactly what the plan says, each manifest after its blobs and
// entries, each tag once what it names is there. A plan that writes
// nothing (Unchanged) makes no request.
func Execute(ctx context.Context, p *Plan) error {
	x := p.run
	if x == nil || x.e == nil {
		return nil
	}
	if x.root != nil {
		if err := x.copy(ctx, p); err != nil {
			return err
		}
		return writeTagRepos(ctx, x.repos)
	}
	x.e.before = x.before
	if x.dst.Local != nil {
		return x.writeLocal(ctx, p)
	}
	if err := x.writeTops(ctx, p); err != nil {
		return err
	}
	return writeTagRepos(ctx, x.repos)
}

// writeTops writes the tops under their tags, a mirror's with --referrers
// once what refers to them is there.
func (x *execution) writeTops(ctx context.Context, p *Plan) error {
	if x.e.opts.Referrers {
		return x.writeReferred(ctx, p)
	}
	return x.e.write(ctx, x.tops)
}

// writeLocal writes the tops into a local destination (a mirror's oci:
// layout, each top named by its tag) and commits it.
func (x *execution) writeLocal(ctx context.Context, p *Plan) error {
	ld, err := openDestination(ctx, *x.dst.Local, x.e.opts.SystemContext)
	if err != nil {
		return err
	}
	defer ld.close()
	x.e.dst = ld
	if err := x.writeTops(ctx, p); err != nil {
		return err
	}
	return ld.commit(ctx)
}

// Close releases what a plan holds open (a local source).
func (p *Plan) Close() {
	if p.run != nil && p.run.closeSource != nil {
		p.run.closeSource()
		p.run.closeSource = nil
	}
}

// copy executes a copy's plan.
func (x *execution) copy(ctx context.Context, p *Plan) error {
	e, root, dst := x.e, x.root, x.dst
	if dst.Local != nil {
		ld, err := openDestination(ctx, *dst.Local, e.opts.SystemContext)
		if err != nil {
			return err
		}
		defer ld.close()
		e.dst = ld
		if !ld.holdsLists() && root.parsed.Kind == manifestlist.KindList {
			return errors.New("internal: a list reached a single-image destination")
		}
	}
	tops := []topNode{{n: root}}
	if !e.opts.Referrers {
		// With --referrers the tags are written once the referrers are
		// there too.
		tops = x.tops
	}
	if len(tops) == 0 {
		tops = []topNode{{n: root}}
	}
	if err := e.write(ctx, tops); err != nil {
		return err
	}
	if e.opts.Referrers {
		if x.refs != nil {
			if x.refs.planned {
				x.refs.dst = e.referrerDestination(dst, e.dst, x.refs.tops())
			}
			p.Warnings = x.refs.run(ctx)
		} else {
			copied, orphaned := x.referrerSubjects()
			p.Warnings = copyReferrers(ctx, e, e.referrerSource(x.src), e.referrerDestination(dst, e.dst, nil), copied, orphaned)
		}
		for _, t := range x.tops {
			if err := e.dst.putManifest(ctx, root.Raw, root.MediaType, root.Digest, t.tag, true); err != nil {
				return err
			}
		}
	}
	return e.dst.commit(ctx)
}
