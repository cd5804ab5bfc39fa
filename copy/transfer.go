// Package copy moves manifests and blobs between repositories and registries.
package copy

import (
	"context"
	"errors"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// Endpoint is a repository reached through a registry client.
type Endpoint struct {
	Client     *registry.Client
	Repository string
	// New marks a destination repository without tags (the registry says it
	// does not exist): manifests are not checked for before they are
	// written, and blobs are asked for with a mount from the repository
	// itself, which opens the upload session when the blob is missing, so an
	// interrupted copy's blobs are not sent again.
	New bool
}

// String is host/repository.
func (e Endpoint) String() string { return e.Client.Host + "/" + e.Repository }

// Manifest is one manifest to transfer. Raw may be nil: it is then read from
// the source, and only if the destination lacks it.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	// Size is what the descriptor naming the manifest says, 0 if none did.
	Size int64
	Raw  []byte
	// Tag, when set, is where the manifest is put instead of its digest.
	Tag string
}

// Transfer makes manifest m of src present in dst with the same digest: a
// HEAD when dst already has it; otherwise each missing blob is mounted (same
// registry) or streamed (another registry, or a registry that declines or
// forbids the mount), a list's entries are transferred first, and the
// manifest is put by digest (or under m.Tag) with its exact bytes, last.
// Every manifest and streamed blob is checked against the descriptor that
// named it (digest and size); a mismatch fails with a *CorruptError before
// the manifest is put. It runs DefaultJobs blob streams at once; a whole
// copy with options is CopySides.
func Transfer(ctx context.Context, src, dst Endpoint, m Manifest, stats *Stats) error {
	return TransferAll(ctx, dst, []TransferEntry{{Source: src, Manifest: m}}, stats)
}

// TransferEntry is a manifest to transfer and the repository it is read from.
type TransferEntry struct {
	Source   Endpoint
	Manifest Manifest
}

// TransferAll is Transfer of several manifests into one repository, as one
// graph: a digest they share, at whatever level of nesting and however
// often it repeats, is looked for, read and written once, and every
// request of the graph runs under one limit (SmallJobs).
func TransferAll(ctx context.Context, dst Endpoint, entries []TransferEntry, stats *Stats) error {
	if stats == nil {
		stats = &Stats{}
	}
	flights := &blobFlights{}
	newTransferEngine := func(src Endpoint) *engine {
		e := newEngine(&registrySource{ep: src}, &registryDestination{ep: dst}, Options{Jobs: DefaultJobs}, stats)
		// Transfers share one stream limit; the small requests are not
		// queued behind it.
		e.streams, e.smallLimit, e.flights = transferStreams, SmallJobs, flights
		return e
	}
	engines := map[Endpoint]*engine{}
	items := make([]transferItem, len(entries))
	for i, t := range entries {
		if engines[t.Source] == nil {
			engines[t.Source] = newTransferEngine(t.Source)
		}
		items[i] = transferItem{e: engines[t.Source], m: t.Manifest}
	}
	if len(items) == 0 {
		return nil
	}
	return items[0].e.transferAll(ctx, dst, items)
}

// transferStreams bounds the blob streams of every Transfer call of the
// process to DefaultJobs (no option sets it); CopySides has its own, from
// Options.Jobs.
var transferStreams = make(chan struct{}, DefaultJobs)

// transferItem is a manifest to transfer and the engine that reads it.
type transferItem struct {
	e *engine
	m Manifest
}

// transfer makes m of e's source present in dst (see Transfer).
func (e *engine) transfer(ctx context.Context, dst Endpoint, m Manifest) error {
	return e.transferAll(ctx, dst, []transferItem{{e: e, m: m}})
}

// transferAll reads the graphs of items as one, skipping what dst holds
// (a manifest present has everything below it), then writes what is
// missing with e's destination: blobs, then manifests entries first.
func (e *engine) transferAll(ctx context.Context, dst Endpoint, items []transferItem) error {
	w := newGraphWalk(ctx, e.smallLimit)
	if !dst.New {
		w.probe = func(ctx context.Context, n *node) (bool, error) {
			desc, err := dst.Client.HeadManifest(ctx, dst.Repository, n.Digest.String())
			switch {
			case err == nil:
				if n.Size > 0 && desc.Size > 0 && desc.Size != n.Size {
					return false, &CorruptError{Kind: "manifest", Digest: n.Digest, Source: dst.String(), Size: n.Size, GotSize: desc.Size}
				}
				return true, nil
			case errors.Is(err, registry.ErrNotFound):
				return false, nil
			}
			return false, err
		}
	}
	tops := make([]topNode, len(items))
	for i, it := range items {
		n := &node{Digest: it.m.Digest, MediaType: it.m.MediaType, Size: it.m.Size, Raw: it.m.Raw}
		tops[i] = topNode{n: w.add(it.e, n), tag: it.m.Tag}
	}
	if err := w.wait(); err != nil {
		return err
	}
	for _, t := range tops {
		if n := t.n; t.tag != "" && n.Raw == nil {
			// Present by digest, missing under its tag: read to be put.
			raw, mt, err := w.read(ctx, n.eng, n.Digest, n.Size)
			if err != nil {
				return err
			}
			if n.MediaType == "" {
				n.MediaType = manifestlist.MediaTypeOf(raw, mt)
			}
			n.Raw = raw
		}
	}
	return e.write(ctx, tops)
}

// ForEach runs f over items, DefaultJobs at a time, and returns the first
// error, cancelling the others. The engine's copies use errgroups sized by
// Options.Jobs instead.
func ForEach[T any](ctx context.Context, items []T, f func(ctx context.Context, i int, item T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultJobs)
	for i, it := range items {
		g.Go(func() error { return f(ctx, i, it) })
	}
	return g.Wait()
}
