package copy

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// Options tune a copy.
type Options struct {
	// Platforms, when set, copies only these entries of a list (and their
	// attestations) and writes a list of just them; to a single-image
	// destination (docker-archive), exactly one platform picks the image.
	Platforms []imgspecv1.Platform
	// Referrers also copies cosign-style digest tags (sha256-<hex>.sig, .att,
	// .sbom) and OCI referrers of every copied manifest, from the referrers
	// API or the referrers tag schema, and keeps the destination's tag-schema
	// index up to date where it has no API. An oci: or oci-archive: layout
	// holds them as regctl's ocidir does (see layoutReferrers); a
	// docker-archive holds none.
	Referrers bool
	// MediaType converts the copy: "docker" or "oci"; "" preserves digests.
	MediaType string
	// Jobs bounds the blob streams running at once (DefaultJobs when 0);
	// manifest requests and blob checks run beside them, not behind them.
	Jobs int
	// DryRun plans the copy and writes nothing: Result.Plan says what a
	// copy would do.
	DryRun bool
	// SystemContext is how containers/image reaches local locations.
	SystemContext *types.SystemContext
	// Tags are more tags a registry destination gets the root under,
	// after its own (ParseTags; declared with ResolveSides).
	Tags []registry.Reference
}

// Result is what a copy did (or, with DryRun, would do).
type Result struct {
	// Digest is the digest of what was written at the destination.
	Digest digest.Digest
	// SourceDigest is the digest the source reference named.
	SourceDigest digest.Digest
	// Unchanged means the destination already held the digest under that tag:
	// only HEAD requests were made.
	Unchanged bool
	// Plan is the plan the copy carried out.
	Plan *Plan
	// Warnings name what refers to the image but was left behind: a
	// referrer that could not be copied, or a source of referrers that could
	// not be read.
	Warnings []string
}

// Copy copies the image or list src (ref: a tag or digest) to dst, tagged
// dstTag (or by digest when dstTag is empty), preserving digests unless a
// platform subset or a conversion is asked for. It is CopySides between
// two registries.
func Copy(ctx context.Context, src Endpoint, ref string, dst Endpoint, dstTag string, opts Options, stats *Stats) (Result, error) {
	return CopySides(ctx, Side{Endpoint: &src, Ref: ref}, Side{Endpoint: &dst, Ref: dstTag}, opts, stats)
}

// subset rewrites a list to the entries of the given platforms, plus the
// attestations of those entries. A platform the list lacks is an error.
func subset(m Manifest, platforms []imgspecv1.Platform) (Manifest, error) {
	l, err := manifestlist.ParseList(m.Raw, m.MediaType)
	if err != nil {
		return m, fmt.Errorf("--platform needs a list: %w", err)
	}
	selected, err := manifestlist.SelectPlatforms(l, platforms)
	if err != nil {
		return m, err
	}
	keep := map[digest.Digest]bool{}
	for i, d := range l.Manifests {
		if selected[i] {
			keep[d.Digest] = true
		}
	}
	var out []imgspecv1.Descriptor
	for _, d := range l.Manifests {
		subject := digest.Digest(d.Annotations[manifestlist.AnnotationReferenceDigest])
		if keep[d.Digest] || (manifestlist.IsAttestation(d) && keep[subject]) {
			out = append(out, d)
		}
	}
	if len(out) == len(l.Manifests) {
		return m, nil // every entry kept: the original bytes keep the digest
	}
	l.Manifests = out
	raw, err := l.Serialize()
	if err != nil {
		return m, err
	}
	return Manifest{Digest: digest.FromBytes(raw), MediaType: l.MediaType, Raw: raw, Tag: m.Tag}, nil
}

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
