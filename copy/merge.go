package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
	"golang.org/x/sync/errgroup"
)

// DefaultMergeAttempts bounds how often a merge is planned when DESTINATION
// keeps changing under it.
const DefaultMergeAttempts = 3

// ErrKeptChanging is returned when DESTINATION changed before every write
// attempt; nothing was written.
var ErrKeptChanging = errors.New("it kept changing while merging")

// MergeRequest is a merge to run: SOURCE into DESTINATION, the result
// written to Target (DESTINATION's tag unless told otherwise).
type MergeRequest struct {
	// Source is SOURCE when it is a registry reference; SourceInput, when
	// set, is SOURCE as Resolve found it, which may also be a local draft
	// or layout (whose entries are brought from where they live).
	Source              registry.Reference
	SourceInput         *Input
	Destination, Target registry.Reference
	// SystemContext reaches a local SOURCE.
	SystemContext *types.SystemContext
	// Rules are manifestlist.Merge's options.
	Rules manifestlist.MergeOptions
	// SourceSession reads SOURCE and brings entries from its repository;
	// DestinationSession reads DESTINATION and writes Target. They may be
	// one session. Both must have been told (Want) what will be touched.
	SourceSession, DestinationSession *registry.Session
	// DryRun plans and writes nothing.
	DryRun bool
	// Attempts bounds the plans made when DESTINATION changes between the
	// read and the write; 0 means DefaultMergeAttempts.
	Attempts int
	// Log, when set, is told each time DESTINATION changed and the merge
	// is planned again.
	Log io.Writer
	// Stats, when set, counts what bringing the entries did.
	Stats *Stats
	// Tags are more tags to write the result under, after Target's
	// (ParseTags against Target); the caller declares them (WantTags).
	Tags []registry.Reference
}

// MergeDetail is what a merge's plan says beyond what every plan does.
type MergeDetail struct {
	// Target is where the result is written (DESTINATION unless --target).
	Target            string        `json:"target"`
	Destination       string        `json:"destination,omitempty"`
	DestinationDigest digest.Digest `json:"destinationDigest,omitempty"`
	// MediaTypeReason says why the result has its type: "as asked", the
	// type DESTINATION (or, without one, SOURCE) has, or what forced an OCI
	// index.
	MediaTypeReason string        `json:"mediaTypeReason"`
	Changes         []MergeChange `json:"changes"`
	Notes           []string      `json:"notes,omitempty"`
}

// MergeChange is what the merge does with one entry (see
// manifestlist.Change).
type MergeChange struct {
	Platform string `json:"platform"`
	Action   string `json:"action"`
	// OldPlatform is a replaced DESTINATION entry's platform when it is not
	// Platform (--match arch: windows/amd64 replaced by linux/amd64).
	OldPlatform string        `json:"oldPlatform,omitempty"`
	Old         digest.Digest `json:"old,omitempty"`
	New         digest.Digest `json:"new,omitempty"`
	Attestation bool          `json:"attestation,omitempty"`
	Subject     digest.Digest `json:"subject,omitempty"`
}

// MergeResult is what Merge did.
type MergeResult struct {
	// Plan is the last plan made (the one executed, unless DryRun or
	// Plan.Unchanged).
	Plan *Plan
	// Written is true when the list was put to Target.
	Written bool
	// Digest is the list Target now holds (or, dry, would hold).
	Digest digest.Digest
	// Replans counts the plans made again because DESTINATION changed.
	Replans int
}

// Merge reads SOURCE and DESTINATION, merges them by req.Rules, brings the
// entries Target's repository lacks, and writes the list last. Nothing is
// written when the result equals DESTINATION. When the result goes back to
// DESTINATION's tag, the tag is checked right before the write; if someone
// pushed it meanwhile the merge is planned again on top of what is there
// now, up to req.Attempts plans, after which it fails with ErrKeptChanging
// and has written no list.
func Merge(ctx context.Context, req MergeRequest) (*MergeResult, error) {
	src, dst, err := ReadMergeSides(ctx, req)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	attempts := req.Attempts
	if attempts <= 0 {
		attempts = DefaultMergeAttempts
	}
	res := &MergeResult{}
	for attempt := 1; ; attempt++ {
		plan, err := PlanMerge(ctx, req, src, dst)
		if err != nil {
			return nil, fmt.Errorf("merge %s into %s: %w", req.sourceName(), req.Destination, err)
		}
		res.Plan, res.Digest = plan, plan.Digest
		if req.DryRun || plan.Unchanged {
			return res, nil
		}
		err = Execute(ctx, plan)
		var changed *destinationChanged
		if errors.As(err, &changed) {
			if attempt == attempts {
				return nil, fmt.Errorf("merge into %s: %w (%d attempts); nothing written", req.Destination, ErrKeptChanging, attempt)
			}
			if req.Log != nil {
				fmt.Fprintf(req.Log, "%s changed while merging (now %s); planning again\n", req.Destination, digestOrDeleted(changed.now))
			}
			res.Replans++
			tc, err := req.DestinationSession.Client(ctx, req.Target.Host)
			if err != nil {
				return nil, err
			}
			if dst, err = ReadListIfExists(ctx, tc, req.Destination); err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("merge into %s: %w", req.Target, err)
		}
		res.Written = true
		return res, nil
	}
}

// destinationChanged is what a merge's check before the list's write finds:
// DESTINATION's tag holds now (""; deleted) what it did not when read.
type destinationChanged struct{ now digest.Digest }

func (e *destinationChanged) Error() string {
	return "DESTINATION changed to " + digestOrDeleted(e.now)
}

// ReadMergeSides reads SOURCE and DESTINATION at once; a missing
// DESTINATION is nil.
func ReadMergeSides(ctx context.Context, req MergeRequest) (src, dst *ListRead, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		src, err = readMergeSource(gctx, req)
		return err
	})
	g.Go(func() error {
		c, err := req.DestinationSession.Client(gctx, req.Destination.Host)
		if err == nil {
			dst, err = ReadListIfExists(gctx, c, req.Destination)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	return src, dst, nil
}

// PlanMerge merges what was read (dst nil: DESTINATION does not exist) into
// the list to write to req.Target and plans its write: the target tag
// (read unless it is DESTINATION's), and the entries Target's repository
// lacks, brought from SOURCE's or DESTINATION's repository with what they
// refer to. When the list goes back to DESTINATION's tag, Execute checks
// that tag right before the list is written (one HEAD) and fails with a
// *destinationChanged when someone pushed it meanwhile.
func PlanMerge(ctx context.Context, req MergeRequest, src, dst *ListRead) (*Plan, error) {
	var dstList *manifestlist.List
	if dst != nil {
		dstList = dst.List
	}
	result, p, err := manifestlist.Merge(src.List, dstList, req.Rules)
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch {
	case p.Unchanged && dst != nil && dst.Single == nil:
		// A single image DESTINATION is not a list of itself: the
		// result is written as one.
		raw = dst.Raw
	case p.SameAsSource && src.Single == nil:
		// The source's own bytes keep its digest.
		raw = src.Raw
	default:
		if raw, err = result.Serialize(); err != nil {
			return nil, err
		}
	}
	detail := &MergeDetail{Target: req.Target.String(), Notes: p.Warnings}
	switch {
	case p.TypeChanged != "":
		detail.Notes = append(detail.Notes, p.TypeChanged)
		detail.MediaTypeReason = p.TypeChanged
	case req.Rules.MediaType != "":
		detail.MediaTypeReason = "as asked"
	case dst != nil:
		detail.MediaTypeReason = "DESTINATION's type"
	default:
		detail.MediaTypeReason = "SOURCE's type, as DESTINATION does not exist"
	}
	if dst != nil {
		detail.Destination, detail.DestinationDigest = dst.Ref.String(), dst.Digest
	}
	detail.Changes = []MergeChange{}
	for _, c := range p.Changes {
		detail.Changes = append(detail.Changes, MergeChange{Platform: c.Platform, Action: string(c.Action), OldPlatform: c.OldPlatform,
			Old: c.Old, New: c.New, Attestation: c.Attestation, Subject: c.Subject})
	}
	tc, err := req.DestinationSession.Client(ctx, req.Target.Host)
	if err != nil {
		return nil, err
	}
	same, others := splitTags(req.Target.Repository, req.Tags)
	lw := listWrite{command: "merge", source: src.name(), dst: Endpoint{Client: tc, Repository: req.Target.Repository},
		raw: raw, mediaType: result.MediaType, tags: append([]string{req.Target.Tag}, same...), others: others, stats: req.Stats,
		opts: Options{DryRun: req.DryRun}, requests: sessionRequests(req.SourceSession, req.DestinationSession)}
	writesDst := mergeWritesDestination(req)
	if writesDst {
		lw.known = map[string]digest.Digest{req.Target.Tag: digestRead(dst)}
	}
	// Entries are brought from wherever they live unless already in the
	// target repository.
	inDst := map[digest.Digest]bool{}
	if dst != nil {
		for _, m := range dst.List.Manifests {
			inDst[m.Digest] = true
		}
	}
	for _, m := range result.Manifests {
		from, sess := src.Ref, req.SourceSession
		if inDst[m.Digest] {
			from, sess = dst.Ref, req.DestinationSession
		} else if src.local != nil || src.draft != nil {
			en, err := src.entry(ctx, m, req)
			if err != nil {
				return nil, err
			}
			lw.entries = append(lw.entries, en)
			continue
		}
		en := listEntry{desc: m}
		if from.Name() != req.Target.Name() {
			c, err := sess.Client(ctx, from.Host)
			if err != nil {
				return nil, err
			}
			en.from = &Endpoint{Client: c, Repository: from.Repository}
			if src.Single != nil && m.Digest == src.Single.Descriptor.Digest {
				en.raw = src.Single.Raw
			}
		}
		lw.entries = append(lw.entries, en)
	}
	plan, err := planList(ctx, lw)
	if err != nil {
		return nil, err
	}
	plan.SourceDigest, plan.Merge = src.Digest, detail
	if writesDst && len(plan.run.tops) > 0 {
		// Someone may push DESTINATION while the entries are brought: never
		// overwrite that blindly (Merge plans again from what is there).
		was := digestRead(dst)
		plan.run.before = func(ctx context.Context) error {
			now, err := tagDigest(ctx, tc, req.Destination)
			if err != nil {
				return err
			}
			if now != was {
				return &destinationChanged{now: now}
			}
			return nil
		}
		plan.Requests++
	}
	return plan, nil
}

// sessionRequests counts the requests of the sessions, each once.
func sessionRequests(sessions ...*registry.Session) func() int {
	return func() int {
		n := int64(0)
		for i, s := range sessions {
			if s != nil && !slices.Contains(sessions[:i], s) {
				n += s.Requests()
			}
		}
		return int(n)
	}
}

// mergeWritesDestination reports whether the result goes back to DESTINATION's
// tag, the case where a concurrent push must be looked for.
func mergeWritesDestination(req MergeRequest) bool {
	return req.Target.Name() == req.Destination.Name() && req.Target.Tag == req.Destination.Tag
}

func digestRead(r *ListRead) digest.Digest {
	if r == nil {
		return ""
	}
	return r.Digest
}

// tagDigest is the digest ref's tag points at now, "" when it has none.
func tagDigest(ctx context.Context, c *registry.Client, ref registry.Reference) (digest.Digest, error) {
	desc, err := c.HeadManifest(ctx, ref.Repository, ref.Tag)
	if errors.Is(err, registry.ErrNotFound) {
		return "", nil
	}
	return desc.Digest, err
}

func digestOrDeleted(d digest.Digest) string {
	if d == "" {
		return "deleted"
	}
	return d.String()
}
