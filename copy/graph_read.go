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

// readGraph reads the manifest top and everything below it, level by
// level, verifying each against the descriptor that named it; applies
// --platform; and for a single-image destination picks the one image.
func (e *engine) readGraph(ctx context.Context, top digest.Digest, dst Side) (*node, error) {
	root, err := e.readRoot(ctx, top)
	if err != nil {
		return nil, err
	}
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
			return nil, fmt.Errorf("a docker-archive holds one image; choose it with --platform (%s@%s is a list of %s)", e.src, top, manifestlist.EntriesText(root.parsed.List))
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

// readRoot reads the manifest top alone, verified: what a copy whose
// destination holds top needs to write it under more tags.
func (e *engine) readRoot(ctx context.Context, top digest.Digest) (*node, error) {
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
	return imgspecv1.Descriptor{}, fmt.Errorf("%w for platform %s; the list has %s", errNoImage, manifestlist.FormatPlatform(&p), manifestlist.EntriesText(l))
}

// checkPresent asks a registry destination, top-down, which manifests it
// holds: a list it holds needs nothing below it.
func (e *engine) checkPresent(ctx context.Context, dst Endpoint, roots ...*node) error {
	var level []*node
	seen := map[*node]bool{}
	for _, root := range roots {
		if !seen[root] {
			seen[root] = true
			level = append(level, root)
		}
	}
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
