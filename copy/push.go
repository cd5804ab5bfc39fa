package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
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
}

// PlanPush plans a push: the target's tags are read (one HEAD each); when
// the list's own tag holds it already nothing more is read or written;
// otherwise the entries that live in other repositories are looked for in
// the target repository (a HEAD each, or one probe of a repository without
// tags) and the graphs below those it lacks are read. Execute makes them
// present (blobs mounted within a registry, copied across registries),
// then writes the list under each tag that does not hold it, last.
func PlanPush(ctx context.Context, req PushRequest) (*Plan, error) {
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
			req.Session.Want(src.Host, src.Repository, "pull")
			froms[e.Source] = src
		}
		entries = append(entries, en)
	}
	for i, e := range req.Entries {
		src, ok := froms[e.Source]
		if !ok {
			continue
		}
		c, err := req.Session.Client(ctx, src.Host)
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
	return planList(ctx, listWrite{command: "push", dst: Endpoint{Client: c, Repository: target.Repository},
		raw: req.Raw, mediaType: req.MediaType, tags: append([]string{target.Ref()}, same...), others: others, entries: entries,
		opts: Options{DryRun: req.DryRun}, stats: req.Stats, requests: sessionRequests(req.Session)})
}
