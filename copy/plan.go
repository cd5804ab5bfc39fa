package copy

import (
	"encoding/json"

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
	// count, or does not know: whether another registry that holds none
	// of the image serves the referrers API (see
	// referrerCopy.indexRequests). From or into a registry, a --referrers
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
