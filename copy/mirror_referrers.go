package copy

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// isReferrerTag says whether tag names what refers to a digest rather than
// an image: the referrers tag schema's sha256-<hex> and cosign's
// sha256-<hex>.sig, .att and .sbom. A mirror with --referrers brings those
// with their subjects, so it does not copy them as tags of their own.
func isReferrerTag(tag string) bool {
	base := tag
	for _, suffix := range cosignSuffixes {
		if b, ok := strings.CutSuffix(tag, suffix); ok {
			base = b
			break
		}
	}
	alg, hex, ok := strings.Cut(base, "-")
	return ok && digest.NewDigestFromEncoded(digest.Algorithm(alg), hex).Validate() == nil
}

// planMirrorReferrers plans a mirror's --referrers: what refers to the
// graphs of every tag it writes, each subject looked at once (see
// planReferrers). It returns what buildPlan counts: the tags' roots by
// digest (each tag is put once its referrers are there, see
// execution.writeReferred) and the referrers' graphs. From a layout into
// a layout nothing is read ahead: the run finds them.
func (e *engine) planMirrorReferrers(ctx context.Context, p *Plan, x *execution, regDst *Endpoint) []topNode {
	var tops []topNode
	var roots []*node
	var orphaned []digest.Digest
	for _, t := range x.tops {
		tops = append(tops, topNode{n: t.n})
		roots = append(roots, t.n)
		if t.n.from != "" && t.n.from != t.n.Digest {
			orphaned = append(orphaned, t.n.from)
		}
	}
	if len(roots) == 0 || (regDst == nil && x.src.Endpoint == nil) {
		return tops
	}
	x.refs = e.planReferrers(ctx, p, x.src, roots, orphaned, regDst)
	for _, t := range x.refs.tops() {
		if t.tag != "" {
			// A cosign tag is a tag the mirror writes too (see
			// engine.write), counted in its progress.
			e.stats.add(func(s *Stats) { s.Tags++ })
		}
	}
	return append(tops, x.refs.tops()...)
}

// writeReferred writes a mirror's roots with --referrers: each root by
// digest, then what refers to them, then the tags, so that no tag names
// an image whose referrers are not there yet.
func (x *execution) writeReferred(ctx context.Context, p *Plan) error {
	e := x.e
	var untagged []topNode
	var roots []*node
	for _, t := range x.tops {
		untagged = append(untagged, topNode{n: t.n})
		roots = append(roots, t.n)
	}
	if err := e.write(ctx, untagged); err != nil {
		return err
	}
	switch {
	case x.refs == nil:
		p.Warnings = copyReferrers(ctx, e, e.referrerSource(x.src), e.referrerDestination(x.dst, e.dst, nil), subjectsOf(roots...), nil)
	case x.refs.planned:
		x.refs.dst = e.referrerDestination(x.dst, e.dst, x.refs.tops())
		fallthrough
	default:
		p.Warnings = x.refs.run(ctx)
	}
	for _, t := range x.tops {
		if err := e.dst.putManifest(ctx, t.n.Raw, t.n.MediaType, t.n.Digest, t.tag, true); err != nil {
			return fmt.Errorf("put %s under %s: %w", t.n.Digest, t.tag, err)
		}
		e.stats.add(func(s *Stats) { s.TagsDone++ })
	}
	return nil
}
