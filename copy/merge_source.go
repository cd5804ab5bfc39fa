package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// sourceName names SOURCE in messages.
func (req MergeRequest) sourceName() string {
	if req.SourceInput != nil {
		return req.SourceInput.String()
	}
	return req.Source.String()
}

// readMergeSource reads SOURCE as a list: a registry reference as ReadList
// does, a draft as push would write it, a layout's manifest from the
// layout (which stays open for the entries, until Close).
func readMergeSource(ctx context.Context, req MergeRequest) (*ListRead, error) {
	in := req.SourceInput
	if in == nil || (in.Draft == nil && in.Location.Registry != nil) {
		ref := req.Source
		if in != nil {
			ref = *in.Location.Registry
		}
		c, err := req.SourceSession.Client(ctx, ref.Host)
		if err != nil {
			return nil, err
		}
		return ReadList(ctx, c, ref)
	}
	if in.Draft != nil {
		o, err := Open(ctx, *in, Readers{Session: req.SourceSession}, false)
		if err != nil {
			return nil, err
		}
		return &ListRead{Raw: o.Raw, Digest: o.Digest, MediaType: o.MediaType, List: o.List, draft: in.Draft.Entries, display: in.String()}, nil
	}
	// Read as copy reads it: its blobs go to a registry.
	src, err := openTransferSource(ctx, in.Location, req.SystemContext)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	d, err := src.resolve(ctx)
	var raw []byte
	var served string
	if err == nil {
		raw, served, err = src.manifest(ctx, d)
	}
	var r *ListRead
	if err == nil {
		r, err = readList(ctx, sourceHolder{src}, in.String(), raw, served, d)
	}
	if err != nil {
		src.close()
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	r.local, r.display = src, in.String()
	return r, nil
}

// Close releases a layout SOURCE.
func (r *ListRead) Close() {
	if r != nil && r.local != nil {
		r.local.close()
		r.local = nil
	}
}

// name is what the list was read from.
func (r *ListRead) name() string {
	if r.display != "" {
		return r.display
	}
	return r.Ref.String()
}

// entry is the list entry m of a SOURCE that is not a registry reference:
// read from the layout, or from the repository the draft's entry names
// (in place when that is the target's).
func (r *ListRead) entry(ctx context.Context, m imgspecv1.Descriptor, req MergeRequest) (listEntry, error) {
	en := listEntry{desc: m}
	if r.Single != nil && m.Digest == r.Single.Descriptor.Digest {
		en.raw = r.Single.Raw
	}
	if r.local != nil {
		en.local = r.local
		return en, nil
	}
	var found *manifestlist.Entry
	for i := range r.draft {
		if r.draft[i].Descriptor.Digest == m.Digest {
			found = &r.draft[i]
			break
		}
	}
	if found == nil {
		return en, fmt.Errorf("internal: list entry %s has no source", m.Digest)
	}
	from, err := registry.ParseReference(found.Source)
	if err != nil {
		return en, fmt.Errorf("entry %s: %w", m.Digest, err)
	}
	en.raw = found.Raw
	if from.Name() == req.Target.Name() {
		return en, nil
	}
	req.SourceSession.Want(from.Host, from.Repository, "pull")
	c, err := req.SourceSession.Client(ctx, from.Host)
	if err != nil {
		return en, err
	}
	en.from = &Endpoint{Client: c, Repository: from.Repository}
	return en, nil
}
