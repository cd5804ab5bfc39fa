package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// planListLocal plans writing the list into a layout or archive: every
// entry is read from where it lives (an OCI layout's blobs are looked for
// in it, as a copy's are), and Execute opens
// the layout, writes the graph and names the list by the layout's tag.
func planListLocal(ctx context.Context, lw listWrite, we *engine, root *node) (*Plan, error) {
	p := &Plan{Command: lw.command, Source: lw.source, Destination: lw.local.String(), Digest: root.Digest,
		Kind: "list", MediaType: lw.mediaType, Entries: len(root.parsed.List.Manifests)}
	if err := we.walkEntries(ctx, &lw, root); err != nil {
		return nil, err
	}
	setHeight(root)
	if lw.local.Transport() == "oci" {
		we.layoutBlobs = lw.local.path()
	}
	if err := we.buildPlan(ctx, p, []topNode{{n: root}}, lw.requests()); err != nil {
		return nil, err
	}
	p.run = &execution{e: we, root: root, dst: Side{Local: lw.local}, top: root.Digest}
	return p, nil
}

// pushSubset keeps the entries of the given platforms (and their
// attestations), as copy --platform does, of a list the caller holds.
func pushSubset(req PushRequest) (PushRequest, error) {
	if len(req.Platforms) == 0 {
		return req, nil
	}
	m, err := subset(Manifest{Digest: digest.FromBytes(req.Raw), MediaType: req.MediaType, Raw: req.Raw}, req.Platforms)
	if err != nil {
		return req, fmt.Errorf("%s: %w", req.Source, err)
	}
	kept, err := manifestlist.ParseList(m.Raw, m.MediaType)
	if err != nil {
		return req, err
	}
	in := map[digest.Digest]bool{}
	for _, d := range kept.Manifests {
		in[d.Digest] = true
	}
	var entries []manifestlist.Entry
	for _, e := range req.Entries {
		if in[e.Descriptor.Digest] {
			entries = append(entries, e)
		}
	}
	req.Raw, req.MediaType, req.Entries = m.Raw, m.MediaType, entries
	return req, nil
}

// planPushImage plans copying the one image of the list a single-image
// archive (docker-archive) takes, chosen by the one platform given, from
// the repository its entry lives in: a copy, which converts it.
func planPushImage(ctx context.Context, req PushRequest) (*Plan, error) {
	l, err := manifestlist.ParseList(req.Raw, req.MediaType)
	if err != nil {
		return nil, err
	}
	if len(req.Platforms) != 1 {
		return nil, fmt.Errorf("a docker-archive holds one image; choose it with --platform (%s is a list of %s)", req.Source, manifestlist.EntriesText(l))
	}
	i := manifestlist.OnlyPlatform(req.Platforms[0]).Best(l.Manifests)
	if i < 0 {
		return nil, fmt.Errorf("%s: %w for platform %s; the list has %s", req.Source, errNoImage, manifestlist.FormatPlatform(&req.Platforms[0]), manifestlist.EntriesText(l))
	}
	d := l.Manifests[i]
	var from registry.Reference
	for _, e := range req.Entries {
		if e.Descriptor.Digest == d.Digest {
			if from, err = registry.ParseReference(e.Source); err != nil {
				return nil, fmt.Errorf("entry %s: %w", d.Digest, err)
			}
			break
		}
	}
	if from.Repository == "" {
		return nil, fmt.Errorf("internal: list entry %s has no source", d.Digest)
	}
	req.EntrySession.Want(from.Host, from.Repository, "pull")
	c, err := req.EntrySession.Client(ctx, from.Host)
	if err != nil {
		return nil, err
	}
	opts := Options{DryRun: req.DryRun, Jobs: req.Jobs, SystemContext: req.SystemContext}
	if manifestlist.IsList(d.MediaType) {
		opts.Platforms = req.Platforms // the copy looks into the nested list
	}
	p, err := PlanCopy(ctx, Side{Endpoint: &Endpoint{Client: c, Repository: from.Repository}, Ref: d.Digest.String()}, Side{Local: req.Local}, opts, req.Stats)
	if err != nil {
		return nil, err
	}
	p.Source = req.Source
	return p, nil
}
