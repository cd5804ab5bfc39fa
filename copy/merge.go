package copy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
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
	Source, Destination, Target registry.Reference
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
}

// MergePlan is what a merge will do (or, dry, would do): printable as JSON.
type MergePlan struct {
	Source            string        `json:"source"`
	Destination       string        `json:"destination"`
	Target            string        `json:"target"`
	SourceDigest      digest.Digest `json:"sourceDigest"`
	DestinationDigest digest.Digest `json:"destinationDigest,omitempty"`
	ResultDigest      digest.Digest `json:"resultDigest"`
	MediaType         string        `json:"mediaType"`
	// MediaTypeReason says why the result has its type: "as asked", the
	// type DESTINATION (or, without one, SOURCE) has, or what forced an OCI
	// index.
	MediaTypeReason string `json:"mediaTypeReason"`
	// Unchanged: the result equals what Target holds; nothing is written.
	Unchanged bool            `json:"unchanged"`
	Changes   []MergeChange   `json:"changes"`
	Transfers []MergeTransfer `json:"transfers"`
	Notes     []string        `json:"notes,omitempty"`
	raw       []byte          // the bytes to write
	fromDst   map[string]bool // transfer sources read with DestinationSession
}

// Raw is the exact bytes the merge writes.
func (p *MergePlan) Raw() []byte { return p.raw }

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

// MergeTransfer is a manifest that must be brought into Target's
// repository before the list is written.
type MergeTransfer struct {
	Manifest digest.Digest `json:"manifest"`
	From     string        `json:"from"`
	How      string        `json:"how"` // "mount" within a registry, "copy" across registries
}

// MergeResult is what Merge did.
type MergeResult struct {
	// Plan is the last plan made (the one written, unless DryRun or
	// Plan.Unchanged).
	Plan *MergePlan
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
	tc, err := req.DestinationSession.Client(ctx, req.Target.Host)
	if err != nil {
		return nil, err
	}
	attempts := req.Attempts
	if attempts <= 0 {
		attempts = DefaultMergeAttempts
	}
	res := &MergeResult{}
	for attempt := 1; ; attempt++ {
		plan, err := PlanMerge(src, dst, req.Target, req.Rules)
		if err != nil {
			return nil, fmt.Errorf("merge %s into %s: %w", req.Source, req.Destination, err)
		}
		res.Plan, res.Digest = plan, plan.ResultDigest
		if req.DryRun || plan.Unchanged {
			return res, nil
		}
		if err := BringEntries(ctx, req, plan); err != nil {
			return nil, fmt.Errorf("merge into %s: %w", req.Target, err)
		}
		if mergeWritesDestination(req) {
			// Someone may have pushed DESTINATION since it was read: never
			// overwrite that blindly, plan again from what is there now.
			now, err := tagDigest(ctx, tc, req.Destination)
			if err != nil {
				return nil, fmt.Errorf("merge into %s: %w", req.Destination, err)
			}
			if was := digestRead(dst); now != was {
				if attempt == attempts {
					return nil, fmt.Errorf("merge into %s: %w (%d attempts); nothing written", req.Destination, ErrKeptChanging, attempt)
				}
				if req.Log != nil {
					fmt.Fprintf(req.Log, "%s changed while merging (now %s); planning again\n", req.Destination, digestOrDeleted(now))
				}
				res.Replans++
				if dst, err = ReadListIfExists(ctx, tc, req.Destination); err != nil {
					return nil, fmt.Errorf("merge: %w", err)
				}
				continue
			}
		}
		d, err := tc.PutManifest(ctx, req.Target.Repository, req.Target.Tag, plan.raw, plan.MediaType)
		if err != nil {
			return nil, fmt.Errorf("merge into %s: %w", req.Target, err)
		}
		res.Written, res.Digest = true, d
		return res, nil
	}
}

// ReadMergeSides reads SOURCE and DESTINATION at once; a missing
// DESTINATION is nil.
func ReadMergeSides(ctx context.Context, req MergeRequest) (src, dst *ListRead, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		c, err := req.SourceSession.Client(gctx, req.Source.Host)
		if err == nil {
			src, err = ReadList(gctx, c, req.Source)
		}
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
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	return src, dst, nil
}

// PlanMerge merges what was read (dst nil: DESTINATION does not exist) into
// the list to write to target, and says which entries must be brought into
// target's repository. It makes no request.
func PlanMerge(src, dst *ListRead, target registry.Reference, rules manifestlist.MergeOptions) (*MergePlan, error) {
	var dstList *manifestlist.List
	if dst != nil {
		dstList = dst.List
	}
	result, p, err := manifestlist.Merge(src.List, dstList, rules)
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch {
	case p.Unchanged && dst != nil:
		raw = dst.Raw
	case p.SameAsSource && src.Single == nil:
		// The source's own bytes keep its digest.
		raw = src.Raw
	default:
		if raw, err = result.Serialize(); err != nil {
			return nil, err
		}
	}
	plan := &MergePlan{
		Source: src.Ref.String(), Target: target.String(), SourceDigest: src.Digest,
		ResultDigest: digest.FromBytes(raw), MediaType: result.MediaType, Notes: p.Warnings,
		raw: raw, fromDst: map[string]bool{},
	}
	switch {
	case p.TypeChanged != "":
		plan.Notes = append(plan.Notes, p.TypeChanged)
		plan.MediaTypeReason = p.TypeChanged
	case rules.MediaType != "":
		plan.MediaTypeReason = "as asked"
	case dst != nil:
		plan.MediaTypeReason = "DESTINATION's type"
	default:
		plan.MediaTypeReason = "SOURCE's type, as DESTINATION does not exist"
	}
	if dst != nil {
		plan.Destination, plan.DestinationDigest = dst.Ref.String(), dst.Digest
		plan.Unchanged = p.Unchanged && target.Name() == dst.Ref.Name() && target.Tag == dst.Ref.Tag
		plan.fromDst[dst.Ref.Name()] = true
	}
	for _, c := range p.Changes {
		plan.Changes = append(plan.Changes, MergeChange{Platform: c.Platform, Action: string(c.Action), OldPlatform: c.OldPlatform,
			Old: c.Old, New: c.New, Attestation: c.Attestation, Subject: c.Subject})
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
		from := src.Ref
		if inDst[m.Digest] {
			from = dst.Ref
		}
		if from.Name() == target.Name() {
			continue
		}
		how := "mount"
		if from.Host != target.Host {
			how = "copy"
		}
		plan.Transfers = append(plan.Transfers, MergeTransfer{Manifest: m.Digest, From: from.Name(), How: how})
	}
	return plan, nil
}

// BringEntries makes every manifest plan.Transfers names present in
// req.Target's repository, with its blobs, as one graph (TransferAll): what
// the entries share is brought once.
func BringEntries(ctx context.Context, req MergeRequest, plan *MergePlan) error {
	tc, err := req.DestinationSession.Client(ctx, req.Target.Host)
	if err != nil {
		return err
	}
	entries := make([]TransferEntry, 0, len(plan.Transfers))
	for _, t := range plan.Transfers {
		from, err := registry.ParseReference(t.From + "@" + t.Manifest.String())
		if err != nil {
			return err
		}
		sess := req.SourceSession
		if plan.fromDst[t.From] {
			sess = req.DestinationSession
		}
		fc, err := sess.Client(ctx, from.Host)
		if err != nil {
			return err
		}
		entries = append(entries, TransferEntry{Source: Endpoint{Client: fc, Repository: from.Repository}, Manifest: Manifest{Digest: t.Manifest}})
	}
	return TransferAll(ctx, Endpoint{Client: tc, Repository: req.Target.Repository}, entries, req.Stats)
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
