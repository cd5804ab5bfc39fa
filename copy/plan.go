package copy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
)

// Plan is what a write does, worked out before its first write (docker/cli's
// pushRequest idea): every manifest and blob of the graph with what the run
// does with it, and every tag it writes. push, merge and copy each build one
// (PlanPush, PlanMerge, PlanCopy); a dry run prints it, a run executes
// exactly it (Execute).
type Plan struct {
	// Command is "copy", "push" or "merge".
	Command     string `json:"command"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	// SourceDigest is what the source named (copy, merge's SOURCE).
	SourceDigest digest.Digest `json:"sourceDigest,omitempty"`
	// Digest is what the destination gets: SourceDigest unless --platform
	// or --media-type rewrote the top manifest; a push's or a merge's list.
	Digest digest.Digest `json:"digest"`
	// Draft says the source is a local draft (which, named like a registry
	// reference, shadows it: docker://NAME reads the registry).
	Draft bool `json:"draft,omitempty"`
	// DefaultTag says the tag is "latest" because the destination named none.
	DefaultTag bool `json:"defaultTag,omitempty"`
	// Unchanged: every tag already holds Digest and nothing is written.
	Unchanged bool `json:"unchanged"`
	// Kind of the top manifest: "list" or "image"; Entries counts a list's.
	Kind      string `json:"kind,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Entries   int    `json:"entries,omitempty"`
	// Converted is the --media-type asked for, if any.
	Converted string         `json:"converted,omitempty"`
	Manifests []PlanManifest `json:"manifests"`
	Blobs     []PlanBlob     `json:"blobs"`
	Tags      []TagWrite     `json:"tags"`
	// Merge is what a merge does with the entries.
	Merge *MergeDetail `json:"merge,omitempty"`
	// Requests is the number of registry requests the run makes, its reads
	// included, against registries that do not change in between: the
	// requests the plan's own reads made (counted as they were made, see
	// registry.Client.Requests) and those the write phase will make,
	// predicted from what the plan knows (see blobPlan, manifestWrites). A
	// dry run may read more to learn what it predicts (whether a blob is
	// there already); those reads are not counted. A run's
	// own plan asks a repository with tags for its blobs (the HEADs the
	// run makes anyway, counted) and predicts a repository without tags
	// holds none (it finds out as it writes; only an interrupted copy
	// leaves blobs there, each of which then costs one request less). Only requests the
	// registries' APIs answer count: token realms and the hosts blobs
	// redirect to do not; a registry's challenge (401) counts where it
	// happens, which is in the plan's first read of each registry (a
	// command declares its scopes before it, so the write phase meets
	// none). An OCI layout destination is looked at by every plan (which
	// costs no request): the blobs it holds are not read from the source.
	// When the run makes requests no plan can count without making them
	// itself, Requests counts the rest and RequestsLeftOut says what it
	// leaves out; the JSON says requestsExact: false.
	Requests int `json:"requests"`
	// RequestsLeftOut, when set, names the requests Requests does not
	// count, or does not know: --referrers' into a local layout, and
	// whether another registry that holds none of the image serves the
	// referrers API (see referrerCopy.indexRequests). Into a registry, a --referrers
	// plan finds and reads what refers to the image, and predicts its
	// writes like the image's (see planReferrers).
	RequestsLeftOut string `json:"requestsLeftOut,omitempty"`
	// Bytes are the blob bytes the run sends.
	Bytes int64 `json:"bytes"`
	// Warnings name what was left behind (--referrers); Execute adds them.
	Warnings []string `json:"warnings,omitempty"`

	run *execution
}

// MarshalJSON is the plan with requestsExact, which says whether Requests
// counts every request of the run (RequestsLeftOut is empty).
func (p Plan) MarshalJSON() ([]byte, error) {
	type plan Plan // without this method
	return json.Marshal(struct {
		plan
		RequestsExact bool `json:"requestsExact"`
	}{plan(p), p.RequestsLeftOut == ""})
}

// TagWrite is a tag the plan writes.
type TagWrite struct {
	// Tag is the destination's tag, as host/repository:tag.
	Tag string `json:"tag"`
	// Old is what the tag holds before, "" when it is new.
	Old digest.Digest `json:"old,omitempty"`
	New digest.Digest `json:"new"`
	// Unchanged: the tag already holds New; nothing is written.
	Unchanged bool `json:"unchanged,omitempty"`
	// Error is why the tag cannot be written (a mirror's tag whose source
	// failed); the plan's other tags are written.
	Error string `json:"error,omitempty"`
	// Note says how the tag was copied when it is not what was asked
	// (a single image under --platform is copied whole).
	Note string `json:"note,omitempty"`
}

// MarshalJSON adds the tag's Action as "status", for scripts.
func (t TagWrite) MarshalJSON() ([]byte, error) {
	type plain TagWrite
	return json.Marshal(struct {
		plain
		Status string `json:"status"`
	}{plain(t), t.Action()})
}

// Action is what happens to the tag: "unchanged", "written" (new),
// "moved" (from Old to New) or "failed" (Error).
func (t TagWrite) Action() string {
	switch {
	case t.Error != "":
		return "failed"
	case t.Unchanged:
		return "unchanged"
	case t.Old == "":
		return "written"
	}
	return "moved"
}

// PlanManifest is one manifest of the plan.
type PlanManifest struct {
	Digest    digest.Digest `json:"digest"`
	From      digest.Digest `json:"from,omitempty"` // the source digest, when rewritten
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Role      string        `json:"role"` // "list", "image", "attestation"
	Platform  string        `json:"platform,omitempty"`
	// Source is the repository a manifest of a push or merge comes from.
	Source string `json:"source,omitempty"`
	// Action is "put", "present" (the destination holds it) or "in place"
	// (an entry of a push or merge that lives in the target repository).
	Action string `json:"action"`
	// Repository, when set, is another repository of the destination's
	// registry an extra tag names, where the manifest is put.
	Repository string `json:"repository,omitempty"`
}

// PlanBlob is one blob of the plan.
type PlanBlob struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// Action is "mount" (within a registry), "copy", "present" (the
	// destination holds it: a plan asks a repository with tags and looks
	// in an oci: layout; only a dry run asks a repository without tags),
	// or "fetch" (a foreign layer, from its URLs, for a docker-archive).
	Action string `json:"action"`
	// Repository, when set, is another repository of the destination's
	// registry an extra tag names, where the blob is mounted.
	Repository string `json:"repository,omitempty"`
}

// Plan actions.
const (
	actionPut     = "put"
	actionPresent = "present"
	actionInPlace = "in place"
	actionMount   = "mount"
	actionCopy    = "copy"
	actionFetch   = "fetch"
)

// buildPlan lists the graph below the tops in p, the manifests the
// destination holds marked, and what each blob of the manifests it lacks
// costs; a dry run also asks a registry destination which of those blobs
// it holds (reads that are not counted). reads is what the plan's reads
// cost so far.
func (e *engine) buildPlan(ctx context.Context, p *Plan, tops []topNode, reads int) error {
	var roots []*node
	for _, t := range tops {
		roots = append(roots, t.n)
	}
	held := presentNodes(roots...)
	for _, n := range nodesOf(roots...) {
		pm := PlanManifest{Digest: n.Digest, MediaType: n.MediaType, Size: int64(len(n.Raw)), Role: n.parsed.Kind.String(), Action: actionPut}
		if n.converted {
			pm.From = n.from
		}
		if n.parsed.MediaType == "" && n.desc != nil && manifestlist.IsList(n.desc.MediaType) {
			pm.Role = "list" // an entry in place, not read
		}
		if n.desc != nil {
			pm.Size = max(pm.Size, n.desc.Size)
			if manifestlist.IsAttestation(*n.desc) {
				pm.Role = "attestation"
			} else if n.desc.Platform != nil {
				pm.Platform = manifestlist.FormatPlatform(n.desc.Platform)
			}
		}
		if n.eng != nil && n.eng != e {
			pm.Source = n.eng.src.String()
		}
		switch {
		case n.inPlace:
			pm.Action = actionInPlace
		case held[n]:
			pm.Action = actionPresent
		}
		p.Manifests = append(p.Manifests, pm)
	}
	_, blobs := needed(e.fetchForeign, roots...)
	var present []bool
	headed := false
	switch {
	case e.layoutBlobs != "":
		// Looking costs no request: a run's own plan looks too.
		present = e.layoutHolds(blobs)
	case e.opts.DryRun:
		var err error
		if present, err = e.blobsPresent(ctx, blobs, false); err != nil {
			return err
		}
	default:
		// A run's own plan makes the HEADs the run makes anyway, and
		// counts them; the run does not make them again.
		rd, ok := e.dst.(*registryDestination)
		if ok && !rd.ep.New {
			before := rd.ep.Client.Requests()
			var err error
			if present, err = e.blobsPresent(ctx, blobs, true); err != nil {
				return err
			}
			headed = true
			reads += int(rd.ep.Client.Requests() - before)
		}
	}
	writes := 0
	for i, b := range blobs {
		var known *bool
		if present != nil {
			known = &present[i]
		}
		action, requests := e.blobPlan(b, known, headed)
		writes += requests
		if action == actionCopy || action == actionFetch {
			p.Bytes += b.Size
		}
		p.Blobs = append(p.Blobs, PlanBlob{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Action: action})
	}
	p.Requests = reads + writes + e.manifestWrites(tops)
	if p.Manifests == nil {
		p.Manifests = []PlanManifest{}
	}
	if p.Blobs == nil {
		p.Blobs = []PlanBlob{}
	}
	if p.Tags == nil {
		p.Tags = []TagWrite{}
	}
	return nil
}

// blobsPresent asks a registry destination whether it holds each blob a
// mount would not bring: a dry run's extra reads, or, with record, a
// run's, whose answers the blobs' transfers use (see blobFlights.found).
func (e *engine) blobsPresent(ctx context.Context, blobs []neededBlob, record bool) ([]bool, error) {
	rd, ok := e.dst.(*registryDestination)
	if !ok {
		return nil, nil
	}
	present := make([]bool, len(blobs))
	err := each(ctx, e.smallLimit, indexes(len(blobs)), func(ctx context.Context, i int) error {
		b := blobs[i]
		if b.urls != nil || e.sameHost(b.engine(e)) {
			return nil
		}
		ok, err := rd.ep.Client.BlobExists(ctx, rd.ep.Repository, b.Digest)
		present[i] = ok
		if err == nil && record {
			e.flights.found.Store(blobKey(rd.ep, b.Digest), ok)
		}
		return err
	})
	return present, err
}

// layoutHolds says which blobs the OCI layout a copy writes in place holds
// already, as its destination's TryReusingBlob finds them (a file in its
// blob directory, or in the shared one): the run reads none of those from
// the source.
func (e *engine) layoutHolds(blobs []neededBlob) []bool {
	dir := filepath.Join(e.layoutBlobs, "blobs")
	if sys := e.opts.SystemContext; sys != nil && sys.OCISharedBlobDirPath != "" {
		dir = sys.OCISharedBlobDirPath
	}
	present := make([]bool, len(blobs))
	for i, b := range blobs {
		if b.urls != nil || b.Digest.Validate() != nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, b.Digest.Algorithm().String(), b.Digest.Encoded()))
		present[i] = err == nil && fi.Mode().IsRegular()
	}
	return present
}

// sameHost says whether src reads the registry e writes: its blobs are
// mounted.
func (e *engine) sameHost(src *engine) bool {
	rs, ok := src.src.(*registrySource)
	rd, ok2 := e.dst.(*registryDestination)
	return ok && ok2 && rs.ep.Client.Host == rd.ep.Client.Host
}

// blobPlan is what the run does with blob b and the registry requests it
// makes for it; present is whether the destination holds b, nil when the
// plan does not know (a run's own plan into a repository without tags: it
// finds out as it writes); headed: the plan made the HEAD of a repository
// with tags, and the run does not. The requests follow registryBlob:
//   - within a registry, one mount (which answers 201 whether or not the
//     repository held the blob);
//   - into a repository without tags, a mount from the repository itself
//     (which opens the upload session when the blob is missing) while the
//     source is opened (one GET of a registry source, unless the blob is
//     empty), then, when it is missing, the upload's PUT: 3 requests, 2
//     when the mount finds it (the GET is made all the same);
//   - into a repository with tags, a HEAD, then, when it is missing, the
//     upload's POST, the source's GET and the PUT: 4 requests, 1 when
//     the HEAD finds it (a run's own plan makes the HEAD and counts it
//     with its reads);
//   - into a local destination, the source's GET, none when an OCI layout
//     written in place holds the blob (see layoutHolds);
//   - a foreign layer is read from its URLs, no registry's.
//
// A blob the plan does not know about is predicted missing (a dry run
// knows).
func (e *engine) blobPlan(b neededBlob, present *bool, headed bool) (action string, requests int) {
	get := 0
	if _, ok := b.engine(e).src.(*registrySource); ok && b.Size != 0 {
		get = 1
	}
	isPresent := present != nil && *present
	rd, toRegistry := e.dst.(*registryDestination)
	switch {
	case b.urls != nil:
		return actionFetch, 0
	case !toRegistry && isPresent:
		return actionPresent, 0
	case !toRegistry:
		return actionCopy, get
	case e.sameHost(b.engine(e)):
		return actionMount, 1
	case rd.ep.New && isPresent:
		return actionPresent, 1 + get
	case rd.ep.New:
		return actionCopy, 2 + get
	}
	head := 1
	if headed {
		head = 0
	}
	if isPresent {
		return actionPresent, head
	}
	return actionCopy, head + 2 + get
}

// manifestWrites is how many manifest PUTs write(tops) makes to a
// registry destination: one per manifest the destination lacks, except a
// top that is written under its tags, which costs one per tag that
// changes.
func (e *engine) manifestWrites(tops []topNode) int {
	if _, ok := e.dst.(*registryDestination); !ok {
		return 0
	}
	tagged := map[*node]int{}
	isTop := map[*node]bool{}
	var roots []*node
	for _, t := range tops {
		roots = append(roots, t.n)
		isTop[t.n] = true
		if t.tag != "" {
			tagged[t.n]++
		}
	}
	n := 0
	manifests, _ := needed(e.fetchForeign, roots...)
	for _, m := range manifests {
		if !isTop[m] || tagged[m] == 0 {
			n++
		}
	}
	for _, c := range tagged {
		n += c
	}
	return n
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
