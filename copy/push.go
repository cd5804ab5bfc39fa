package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// PushRequest is a list to push: its bytes, the entries they name (each
// with the reference it was read from) and where it goes.
type PushRequest struct {
	// Session reaches the target and every entry's repository; PlanPush
	// declares what it touches.
	Session *registry.Session
	// Target is the list's repository and tag.
	Target registry.Reference
	// Raw and MediaType are the list's exact bytes, as written.
	Raw       []byte
	MediaType string
	Entries   []manifestlist.Entry
	// Tags are more tags to write the list under, after Target's
	// (ParseTags): of Target's repository, or of another repository of
	// its registry, which gets the list by mounts.
	Tags []registry.Reference
	// DryRun plans for printing: it may read more than a run (whether
	// blobs are there) and is not executed.
	DryRun bool
	// Stats counts what the run does, for progress and the summary.
	Stats *Stats

	// EntrySession, when set, reads the entries instead of Session (copy
	// with --src-creds).
	EntrySession *registry.Session
	// Command names the plan ("push" when empty; copy DRAFT DEST is
	// "copy"), and Source what was read (a draft's name).
	Command, Source string
	// Local, when set, is written instead of Target: an oci: or
	// oci-archive: layout gets the list and every entry, a docker-archive
	// the one image Platforms choose (a copy of it).
	Local         *Location
	SystemContext *types.SystemContext
	// Platforms keeps only these entries (and their attestations), as
	// copy --platform does.
	Platforms []imgspecv1.Platform
	// Jobs bounds the blob streams (DefaultJobs when 0).
	Jobs int
}

// PlanPush plans a push: the target's tags are read (one HEAD each); when
// the list's own tag holds it already nothing more is read or written;
// otherwise the entries that live in other repositories are looked for in
// the target repository (a HEAD each, or one probe of a repository without
// tags) and the graphs below those it lacks are read. Execute makes them
// present (blobs mounted within a registry, copied across registries),
// then writes the list under each tag that does not hold it, last. Into a
// layout (Local), every entry is read from its repository and nothing is
// looked for first; a docker-archive gets the one image Platforms choose.
// Platforms first narrows the list, as copy --platform does.
func PlanPush(ctx context.Context, req PushRequest) (*Plan, error) {
	if req.Command == "" {
		req.Command = "push"
	}
	if req.EntrySession == nil {
		req.EntrySession = req.Session
	}
	if req.Local != nil && req.Local.Transport() == "docker-archive" {
		return planPushImage(ctx, req)
	}
	req, err := pushSubset(req)
	if err != nil {
		return nil, err
	}
	if req.Local != nil {
		return planPushLocal(ctx, req)
	}
	target := req.Target
	if req.DryRun {
		req.Session.Want(target.Host, target.Repository, "pull")
	} else {
		req.Session.Want(target.Host, target.Repository, "pull", "push")
	}
	WantTags(req.Session, target, req.Tags, req.DryRun)
	var entries []listEntry
	froms := map[string]registry.Reference{}
	for _, e := range req.Entries {
		src, err := registry.ParseReference(e.Source)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.Descriptor.Digest, err)
		}
		en := listEntry{desc: e.Descriptor, raw: e.Raw}
		if src.Name() != target.Name() {
			req.EntrySession.Want(src.Host, src.Repository, "pull")
			froms[e.Source] = src
		}
		entries = append(entries, en)
	}
	for i, e := range req.Entries {
		src, ok := froms[e.Source]
		if !ok {
			continue
		}
		c, err := req.EntrySession.Client(ctx, src.Host)
		if err != nil {
			return nil, err
		}
		entries[i].from = &Endpoint{Client: c, Repository: src.Repository}
	}
	c, err := req.Session.Client(ctx, target.Host)
	if err != nil {
		return nil, err
	}
	same, others := splitTags(target.Repository, req.Tags)
	return planList(ctx, listWrite{command: req.Command, source: req.Source, dst: Endpoint{Client: c, Repository: target.Repository},
		raw: req.Raw, mediaType: req.MediaType, tags: append([]string{target.Ref()}, same...), others: others, entries: entries,
		opts: Options{DryRun: req.DryRun, Jobs: req.Jobs}, stats: req.Stats, requests: sessionRequests(req.Session, req.EntrySession)})
}

// planPushLocal plans writing the list into a layout: every entry comes
// from the repository it names.
func planPushLocal(ctx context.Context, req PushRequest) (*Plan, error) {
	if len(req.Tags) > 0 {
		return nil, fmt.Errorf("%s takes one tag, the one it names; more tags are for a registry", req.Local)
	}
	froms := map[string]registry.Reference{}
	for _, e := range req.Entries {
		src, err := registry.ParseReference(e.Source)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.Descriptor.Digest, err)
		}
		req.EntrySession.Want(src.Host, src.Repository, "pull")
		froms[e.Source] = src
	}
	var entries []listEntry
	for _, e := range req.Entries {
		src := froms[e.Source]
		c, err := req.EntrySession.Client(ctx, src.Host)
		if err != nil {
			return nil, err
		}
		entries = append(entries, listEntry{desc: e.Descriptor, raw: e.Raw, from: &Endpoint{Client: c, Repository: src.Repository}})
	}
	return planList(ctx, listWrite{command: req.Command, source: req.Source, local: req.Local,
		raw: req.Raw, mediaType: req.MediaType, entries: entries,
		opts: Options{DryRun: req.DryRun, Jobs: req.Jobs, SystemContext: req.SystemContext}, stats: req.Stats, requests: sessionRequests(req.Session, req.EntrySession)})
}
