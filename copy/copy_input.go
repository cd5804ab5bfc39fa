package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// PlanCopyFrom plans copy SOURCE DESTINATION for a SOURCE as Resolve found
// it: a registry reference or a layout through PlanCopy; a local draft as
// its list, written as push writes one (PlanPush), every entry read from
// the repository it names through srcSess. srcSess and dstSess may be one
// session.
func PlanCopyFrom(ctx context.Context, in Input, dst Location, srcSess, dstSess *registry.Session, opts Options, stats *Stats) (*Plan, error) {
	if in.Draft == nil {
		srcSide, dstSide, err := ResolveSides(ctx, srcSess, dstSess, in.Location, dst, opts.Tags...)
		if err != nil {
			return nil, err
		}
		return PlanCopy(ctx, srcSide, dstSide, opts, stats)
	}
	if opts.MediaType != "" || opts.Referrers {
		return nil, fmt.Errorf("a local draft is copied as it is, without --media-type or --referrers; push it first, or give docker://%s for the registry's", in)
	}
	raw, list, err := in.Draft.Serialize()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	req := PushRequest{Session: dstSess, EntrySession: srcSess, Raw: raw, MediaType: list.MediaType, Entries: in.Draft.Entries,
		DryRun: opts.DryRun, Stats: stats, Command: "copy", Source: in.String(), Platforms: opts.Platforms, Jobs: opts.Jobs, Tags: opts.Tags}
	if dst.Registry != nil {
		req.Target = *dst.Registry
	} else {
		req.Local, req.SystemContext = &dst, opts.SystemContext
	}
	p, err := PlanPush(ctx, req)
	if err != nil {
		return nil, err
	}
	// What SOURCE named: the draft's list, whatever --platform kept of it.
	p.SourceDigest, p.Draft = digest.FromBytes(raw), true
	return p, nil
}
