package copy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// The extra tags of a plan (-t, push --spec's tags:): the plan's root is
// written under them after its own tag, in the same plan. Tags of the
// destination's repository are more tags of its write; a tag of another
// repository of the same registry gets the root made present there by
// mounts from the destination repository (tagRepo), written after the
// destination, since what it mounts is there only then.

var anchoredTag = regexp.MustCompile(`^(?:` + reference.TagRegexp.String() + `)$`)

// ParseTags reads -t values for a write to dst: a bare tag names dst's
// repository, a full reference (with a tag) another repository of dst's
// registry. Each is validated before anything is read; a tag named twice,
// or dst's own, is kept once (dst's own is not returned).
func ParseTags(dst registry.Reference, values []string) ([]registry.Reference, error) {
	var out []registry.Reference
	for _, v := range values {
		r := registry.Reference{Host: dst.Host, Repository: dst.Repository, Tag: v}
		if !anchoredTag.MatchString(v) {
			const accepted = "a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'; or a full reference REGISTRY/REPOSITORY:TAG"
			var err error
			if !strings.ContainsAny(v, "/:@") {
				return nil, fmt.Errorf("invalid tag %q: %s", v, accepted)
			}
			if r, err = registry.ParseReference(v); err != nil {
				return nil, fmt.Errorf("invalid tag %q: %s (%w)", v, accepted, err)
			}
			switch {
			case r.Digest != "" || !strings.Contains(v[strings.LastIndex(v, "/")+1:], ":"):
				return nil, fmt.Errorf("invalid tag %q: a full reference for a tag names its tag (REGISTRY/REPOSITORY:TAG), not a digest", v)
			case r.Host != dst.Host:
				return nil, fmt.Errorf("invalid tag %q: it names registry %s; extra tags stay in the destination's registry %s", v, r.Host, dst.Host)
			}
		}
		if (r.Repository == dst.Repository && r.Tag == dst.Tag) || slices.Contains(out, r) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// WantTags declares what writing tags needs of sess: push to each other
// repository, which mounts from dst's.
func WantTags(sess *registry.Session, dst registry.Reference, tags []registry.Reference, dryRun bool) {
	for _, t := range tags {
		if t.Repository == dst.Repository {
			continue
		}
		if dryRun {
			sess.Want(t.Host, t.Repository, "pull")
		} else {
			sess.Want(t.Host, t.Repository, "pull", "push")
			sess.Want(dst.Host, dst.Repository, "pull")
		}
	}
}

// splitTags parts tags into those of repository repo and the others.
func splitTags(repo string, tags []registry.Reference) (same []string, others []registry.Reference) {
	for _, t := range tags {
		if t.Repository == repo {
			same = append(same, t.Tag)
		} else {
			others = append(others, t)
		}
	}
	return same, others
}

// tagWrites reads what tags of dst hold (except those known) and says
// what writing root under each does; tops are the writes of those that
// change.
func tagWrites(ctx context.Context, dst Endpoint, root digest.Digest, tags []string, known map[string]digest.Digest) ([]TagWrite, []string, error) {
	held, err := readTags(ctx, dst, tags, known)
	if err != nil {
		return nil, nil, err
	}
	var tws []TagWrite
	var changed []string
	for _, t := range tags {
		tw := TagWrite{Tag: dst.String() + ":" + t, Old: held[t], New: root, Unchanged: held[t] == root}
		tws = append(tws, tw)
		if !tw.Unchanged {
			changed = append(changed, t)
		}
	}
	return tws, changed, nil
}

// readExtraTags reads what each tag holds ("" when missing), by
// repository and tag; from reaches their registry.
func readExtraTags(ctx context.Context, from Endpoint, tags []registry.Reference) (map[string]map[string]digest.Digest, error) {
	byRepo := map[string][]string{}
	for _, t := range tags {
		byRepo[t.Repository] = append(byRepo[t.Repository], t.Tag)
	}
	out := map[string]map[string]digest.Digest{}
	for repo, ts := range byRepo {
		held, err := readTags(ctx, Endpoint{Client: from.Client, Repository: repo}, ts, nil)
		if err != nil {
			return nil, err
		}
		out[repo] = held
	}
	return out, nil
}

// holdAll says whether every tag read holds d.
func holdAll(held map[string]map[string]digest.Digest, d digest.Digest) bool {
	for _, tags := range held {
		for _, h := range tags {
			if h != d {
				return false
			}
		}
	}
	return true
}

// heldPlan makes p the plan of a copy whose tags (tag of ep, "" for
// none, and the extra ones) all hold top: nothing is written, and its
// requests are the reads made.
func (e *engine) heldPlan(p *Plan, ep Endpoint, tag string, top digest.Digest, reads int) {
	p.Unchanged = true
	p.Manifests, p.Blobs, p.Tags = []PlanManifest{}, []PlanBlob{}, []TagWrite{}
	if tag != "" {
		p.Tags = append(p.Tags, TagWrite{Tag: ep.String() + ":" + tag, Old: top, New: top, Unchanged: true})
	}
	for _, t := range e.opts.Tags {
		p.Tags = append(p.Tags, TagWrite{Tag: t.String(), Old: top, New: top, Unchanged: true})
	}
	p.Requests = reads
	p.run = &execution{}
}

// planCopyTags plans a copy's tag writes: its own tag (tagHeld read
// already), the extra tags of its repository (those in extraHeld read
// already) and those of other repositories.
func (e *engine) planCopyTags(ctx context.Context, p *Plan, x *execution, dst Endpoint, tag string, tagHeld digest.Digest, extraHeld map[string]map[string]digest.Digest) error {
	same, others := splitTags(dst.Repository, e.opts.Tags)
	var tags []string
	known := map[string]digest.Digest{}
	for t, d := range extraHeld[dst.Repository] {
		known[t] = d
	}
	if tag != "" {
		tags = append(tags, tag)
		known[tag] = tagHeld
	}
	tws, changed, err := tagWrites(ctx, dst, x.root.Digest, append(tags, same...), known)
	if err != nil {
		return err
	}
	p.Tags = append(p.Tags, tws...)
	for _, t := range changed {
		x.tops = append(x.tops, topNode{n: x.root, tag: t, extra: t != tag})
	}
	x.repos, err = e.planTagRepos(ctx, p, dst, x.root, others, extraHeld)
	return err
}

// tagRepo is another repository of the destination's registry that gets
// the plan's root under its tags: e writes there, reading (mounting)
// from the destination repository.
type tagRepo struct {
	e    *engine
	tops []topNode
}

// planTagRepos reads the tags of other repositories (one HEAD each) and,
// for a repository where one changes, the graph below root as the
// destination repository will hold it: what the plan read already is
// reused, what it only knows the destination holds (entries in place,
// manifests found present) is read from there. Every manifest is put and
// every blob mounted (a mount answers 201 whether or not the repository
// held the blob; a PUT of a manifest it holds changes nothing), so the
// requests are known without asking what the repository holds. The tag
// writes go to p.Tags.
func (we *engine) planTagRepos(ctx context.Context, p *Plan, from Endpoint, root *node, tags []registry.Reference, known map[string]map[string]digest.Digest) ([]tagRepo, error) {
	var repos []string
	byRepo := map[string][]string{}
	for _, t := range tags {
		if byRepo[t.Repository] == nil {
			repos = append(repos, t.Repository)
		}
		byRepo[t.Repository] = append(byRepo[t.Repository], t.Tag)
	}
	var out []tagRepo
	for _, repo := range repos {
		ep := Endpoint{Client: from.Client, Repository: repo}
		tws, changed, err := tagWrites(ctx, ep, root.Digest, byRepo[repo], known[repo])
		if err != nil {
			return nil, err
		}
		p.Tags = append(p.Tags, tws...)
		if len(changed) == 0 {
			continue
		}
		re := newEngine(&registrySource{ep: from}, &registryDestination{ep: ep}, we.opts, we.stats)
		re.flights = we.flights
		clone, err := re.cloneGraph(ctx, root)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep, err)
		}
		r := tagRepo{e: re}
		for _, t := range changed {
			r.tops = append(r.tops, topNode{n: clone, tag: t})
		}
		out = append(out, r)
	}
	return out, nil
}

// cloneGraph is the graph below root, every manifest to be written by e:
// a manifest read already is taken as it is, one only known to be held
// by e's source (the destination repository) is read from there.
func (e *engine) cloneGraph(ctx context.Context, root *node) (*node, error) {
	w := newGraphWalk(ctx, e.smallLimit)
	done := map[*node]*node{}
	var clone func(n *node) *node
	clone = func(n *node) *node {
		if c := done[n]; c != nil {
			return c
		}
		whole := n.Raw != nil && n.parsed.MediaType != "" &&
			(n.parsed.Kind != manifestlist.KindList || len(n.children) == len(n.parsed.List.Manifests))
		c := &node{Digest: n.Digest, MediaType: n.MediaType, Size: n.Size, desc: n.desc}
		if !whole {
			if n.Raw != nil && n.parsed.MediaType != "" {
				c.Raw, c.parsed = n.Raw, n.parsed
			}
			c = w.add(e, c)
			done[n] = c
			return c
		}
		c.Raw, c.parsed = n.Raw, n.parsed
		c, fresh := w.link(e, c)
		done[n] = c
		if fresh {
			for _, ch := range n.children {
				c.children = append(c.children, clone(ch))
			}
		}
		return c
	}
	top := clone(root)
	if err := w.wait(); err != nil {
		return nil, err
	}
	setHeight(top)
	return top, nil
}

// addTagRepos adds to p what writing the other repositories does: their
// manifests and blobs, marked with the repository, and their requests.
func addTagRepos(ctx context.Context, p *Plan, repos []tagRepo) error {
	for _, r := range repos {
		var sub Plan
		if err := r.e.buildPlan(ctx, &sub, r.tops, 0); err != nil {
			return err
		}
		repo := r.e.dst.String()
		for _, m := range sub.Manifests {
			m.Repository = repo
			p.Manifests = append(p.Manifests, m)
		}
		for _, b := range sub.Blobs {
			b.Repository = repo
			p.Blobs = append(p.Blobs, b)
		}
		p.Requests += sub.Requests
		p.Bytes += sub.Bytes
	}
	return nil
}

// writeTagRepos writes the other repositories, after the destination.
func writeTagRepos(ctx context.Context, repos []tagRepo) error {
	for _, r := range repos {
		if err := r.e.write(ctx, r.tops); err != nil {
			return fmt.Errorf("%s: %w", r.e.dst, err)
		}
	}
	return nil
}
