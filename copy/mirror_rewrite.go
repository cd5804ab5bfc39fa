package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// What --platform and --media-type do to a mirror's tags: each tag's root
// is subset, each graph converted, with copy's functions.

// rewrites: the mirror writes other digests than the source's.
func (e *engine) rewrites() bool { return len(e.opts.Platforms) > 0 || e.opts.MediaType != "" }

// subset applies --platform to the tag's list, as copy does; a single
// image is left whole (a mirror of a repository holds per-platform images
// under their own tags, and refusing them would fail the mirror).
func (t *mirrorTag) subset(platforms []imgspecv1.Platform) error {
	parsed, err := manifestlist.Parse(t.raw, t.mediaType)
	if err != nil {
		return fmt.Errorf("%s: %w", t.tag, err)
	}
	if parsed.Kind != manifestlist.KindList {
		t.whole = true
		return nil
	}
	m, err := subset(Manifest{Digest: t.new, MediaType: parsed.MediaType, Raw: t.raw}, platforms)
	if err != nil {
		return fmt.Errorf("%s: %w", t.tag, err)
	}
	if m.Digest != t.new {
		t.from, t.new, t.raw, t.mediaType = t.new, m.Digest, m.Raw, m.MediaType
	}
	return nil
}

// convertTags applies --media-type to the tags' graphs, what they share
// converted once; a tag that already holds its converted digest is
// unchanged and dropped. What the destination holds is asked of the
// converted graphs (the walk could not ask by the source's digests). A
// tag that cannot be converted fails alone, as one whose source cannot be
// read: it is found by converting each tag alone.
func (e *engine) convertTags(ctx context.Context, todo []*mirrorTag, tops []*node, regDst *Endpoint) ([]*mirrorTag, []*node, error) {
	converted, err := e.convertAll(ctx, tops)
	if err != nil && ctx.Err() == nil {
		var okTags []*mirrorTag
		var ok []*node
		for i, t := range todo {
			if _, err := e.convertAll(ctx, tops[i:i+1]); err != nil {
				t.err = err
				continue
			}
			okTags, ok = append(okTags, t), append(ok, tops[i])
		}
		todo, tops = okTags, ok
		converted, err = e.convertAll(ctx, tops)
	}
	if err != nil {
		return nil, nil, err
	}
	var keepTags []*mirrorTag
	var keep []*node
	for i, t := range todo {
		n := converted[i]
		if n.from != "" {
			t.from = n.from
		}
		t.new = n.Digest
		if t.unchanged = t.old == t.new; !t.unchanged {
			keepTags, keep = append(keepTags, t), append(keep, n)
		}
	}
	if regDst != nil && !regDst.New && len(keep) > 0 {
		if err := e.checkPresent(ctx, *regDst, keep...); err != nil {
			return nil, nil, err
		}
	}
	return keepTags, keep, nil
}
