package copy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// cosignSuffixes are the tag suffixes cosign uses for what it attaches to an
// image digest.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// cosignKind names what each cosign suffix holds, for messages.
var cosignKind = map[string]string{".sig": "signature", ".att": "attestation", ".sbom": "SBOM"}

// referrersDepth bounds how far referrers of referrers are followed (a
// signature of an attestation of an image is two levels down). It also ends
// a cycle a registry might present.
const referrersDepth = 4

// referrerCopy is one --referrers copy in progress.
type referrerCopy struct {
	src, dst referrerStore
	stats    *Stats
	limit    int // small requests at once
	e        *engine
	// tags are the source's tags; nil when they could not be listed.
	tags map[string]bool

	mu       sync.Mutex
	seen     map[digest.Digest]bool // subjects looked at, and referrers queued
	srcAPI   *bool                  // whether the source serves the referrers API; nil until known
	warnings []string

	probe  sync.Mutex // one probe of the destination at a time
	dstAPI *bool

	// levels are what discover found, written by run.
	levels []*referrerLevel
	// walk is the registry destination whose graphs discover walked.
	walk *Endpoint
	// planned: a plan into a layout, whose discover read the referrers'
	// graphs; the layout's writes use them (see layoutReferrers.read).
	planned bool
}

// copyReferrers copies what refers to each of digests, and what refers to
// that in turn: cosign's digest tags (found in one tag listing) and OCI
// referrers, read through the referrers API or, on a source without it,
// from the tag-schema index (as regctl image copy --referrers does). On a
// destination without the API the tag-schema index of each subject is
// written or updated once its referrers are there; one with the API indexes
// them itself from their subject field.
//
// The image is already copied when this runs, so what cannot be read or
// copied is left behind, and each such thing is returned as a warning; so
// is what refers to a source list that --platform replaced (orphaned).
func copyReferrers(ctx context.Context, e *engine, src, dst referrerStore, digests []digest.Digest, orphaned []digest.Digest) []string {
	r := newReferrerCopy(e, src, dst)
	r.discover(ctx, digests, orphaned, nil, "")
	return r.run(ctx)
}

func newReferrerCopy(e *engine, src, dst referrerStore) *referrerCopy {
	return &referrerCopy{e: e, src: src, dst: dst, stats: e.stats, seen: map[digest.Digest]bool{}, limit: e.smallLimit}
}

func (r *referrerCopy) warn(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// attached is what refers to one subject.
type attached struct {
	subject digest.Digest
	refs    []imgspecv1.Descriptor
	tags    []string // cosign digest tags
}

// run writes what discover found, level by level, each subject's
// tag-schema index once its referrers are there, and returns the warnings.
func (r *referrerCopy) run(ctx context.Context) []string {
	for _, l := range r.levels {
		if ctx.Err() != nil {
			break
		}
		r.runLevel(ctx, l)
	}
	return r.warnings
}

func (r *referrerCopy) runLevel(ctx context.Context, l *referrerLevel) {
	// Every referrer and cosign tag of the level is transferred at once.
	_ = each(ctx, r.limit, l.jobs, func(ctx context.Context, j *referrerJob) error {
		switch {
		case j.err != nil:
		case j.tops != nil && r.walk != nil:
			j.err = r.e.write(ctx, j.tops)
		default:
			j.err = r.dst.put(ctx, r.e, j.m)
		}
		return nil
	})
	for _, j := range l.jobs {
		switch {
		case j.err == nil:
		case j.m.Tag != "":
			r.warn("cosign tag %s of %s left behind: %v", j.m.Tag, j.subject, j.err)
		case strings.Contains(j.err.Error(), j.digest.String()):
			r.warn("referrer of %s left behind: %v", j.subject, j.err)
		default:
			r.warn("referrer %s of %s left behind: %v", j.digest, j.subject, j.err)
		}
	}
	for _, a := range l.found {
		copied := l.copied(a)
		if len(copied) > 0 && !r.destinationHasAPI(ctx, a.subject) {
			if err := r.dst.addReferrersByTag(ctx, a.subject, copied); err != nil {
				r.warn("referrers of %s copied, but the destination's referrers index not written: %v", a.subject, err)
			}
		}
	}
}

// copied are the referrers of a that are in the destination once l ran:
// a referrer queued under another subject, or at an earlier level, was
// copied if it left no error.
func (l *referrerLevel) copied(a attached) []imgspecv1.Descriptor {
	var copied []imgspecv1.Descriptor
	for _, d := range a.refs {
		if j := l.queued[d.Digest]; j == nil || j.err == nil {
			copied = append(copied, d)
		}
	}
	return copied
}

// markSeen records d and reports whether it had been seen before.
func (r *referrerCopy) markSeen(d digest.Digest) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.seen[d]
	r.seen[d] = true
	return was
}

func (r *referrerCopy) sourceAPI() *bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.srcAPI
}

func (r *referrerCopy) setSourceAPI(has bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srcAPI = &has
}

// find lists what refers to s in the source: its cosign digest tags, and
// its referrers from the API or else from the tag schema.
func (r *referrerCopy) find(ctx context.Context, s digest.Digest) attached {
	a := attached{subject: s}
	base := s.Algorithm().String() + "-" + s.Encoded()
	for _, suffix := range cosignSuffixes {
		if r.tags[base+suffix] {
			a.tags = append(a.tags, base+suffix)
		}
	}
	if has := r.sourceAPI(); has == nil || *has {
		refs, err := r.src.referrersAPI(ctx, s)
		switch {
		case err == nil:
			r.setSourceAPI(true)
			a.refs = refs
			return a
		case errors.Is(err, registry.ErrNoReferrersAPI):
			r.setSourceAPI(false)
		default:
			r.warn("referrers of %s left behind: %v", s, err)
			return a
		}
	}
	// Without a tag listing, the index is looked for directly.
	if r.tags != nil && !r.tags[registry.ReferrersTag(s)] {
		return a
	}
	refs, err := r.src.referrersByTag(ctx, s)
	if err != nil {
		r.warn("referrers of %s left behind: %v", s, err)
		return a
	}
	a.refs = refs
	return a
}

// destinationHasAPI says, from one probe per copy, whether the destination
// serves the referrers API. Any answer but a listing counts as no: writing
// the tag-schema index where the API exists is harmless, missing it where
// it does not loses the referrers.
func (r *referrerCopy) destinationHasAPI(ctx context.Context, subject digest.Digest) bool {
	r.probe.Lock()
	defer r.probe.Unlock()
	if r.dstAPI == nil {
		_, err := r.dst.referrersAPI(ctx, subject)
		has := err == nil
		r.dstAPI = &has
	}
	return *r.dstAPI
}

// referrerStore is where --referrers reads, or writes, what refers to a
// manifest: a registry repository (registryReferrers) or an OCI layout
// (layoutReferrers).
type referrerStore interface {
	// tags lists the tags, where cosign's digest tags are looked for.
	tags(ctx context.Context) ([]string, error)
	// referrersAPI answers registry.ErrNoReferrersAPI where there is none.
	referrersAPI(ctx context.Context, subject digest.Digest) ([]imgspecv1.Descriptor, error)
	// referrersByTag reads the tag-schema index of subject (none: empty).
	referrersByTag(ctx context.Context, subject digest.Digest) ([]imgspecv1.Descriptor, error)
	manifestByTag(ctx context.Context, tag string) ([]byte, registry.Descriptor, error)
	// put writes m, read from the engine's source, with what it refers to,
	// under m.Tag when set.
	put(ctx context.Context, e *engine, m Manifest) error
	// addReferrersByTag records descs in the tag-schema index of subject,
	// keeping what it lists.
	addReferrersByTag(ctx context.Context, subject digest.Digest, descs []imgspecv1.Descriptor) error
}

// referrerSource is where --referrers reads: the source's registry
// repository, or its layout through the engine's source.
func (e *engine) referrerSource(src Side) referrerStore {
	if rs, ok := e.src.(*registrySource); ok {
		return registryReferrers{ep: rs.ep}
	}
	return &layoutReferrers{loc: *src.Local, src: e.src}
}

// referrerDestination is where --referrers writes: the destination's
// registry repository, or its layout through d, which takes the manifests
// of read (the graphs a plan read) from there rather than the source.
func (e *engine) referrerDestination(dst Side, d destination, read []topNode) referrerStore {
	if rd, ok := d.(*registryDestination); ok {
		return registryReferrers{ep: rd.ep}
	}
	lw, _ := d.(layoutWriter)
	s := &layoutReferrers{loc: *dst.Local, src: e.src, dst: lw, read: map[digest.Digest]*node{}}
	for _, t := range read {
		for _, n := range nodesOf(t.n) {
			s.read[n.Digest] = n
		}
	}
	return s
}

// registryReferrers is a registry repository's referrers.
type registryReferrers struct{ ep Endpoint }

func (s registryReferrers) tags(ctx context.Context) ([]string, error) {
	return s.ep.Client.Tags(ctx, s.ep.Repository, 0)
}

func (s registryReferrers) referrersAPI(ctx context.Context, d digest.Digest) ([]imgspecv1.Descriptor, error) {
	return s.ep.Client.ReferrersAPI(ctx, s.ep.Repository, d)
}

func (s registryReferrers) referrersByTag(ctx context.Context, d digest.Digest) ([]imgspecv1.Descriptor, error) {
	return s.ep.Client.ReferrersByTag(ctx, s.ep.Repository, d)
}

func (s registryReferrers) manifestByTag(ctx context.Context, tag string) ([]byte, registry.Descriptor, error) {
	return s.ep.Client.GetManifest(ctx, s.ep.Repository, tag)
}

func (s registryReferrers) put(ctx context.Context, e *engine, m Manifest) error {
	return e.transfer(ctx, s.ep, m)
}

func (s registryReferrers) addReferrersByTag(ctx context.Context, subject digest.Digest, descs []imgspecv1.Descriptor) error {
	_, err := s.ep.Client.AddReferrersByTag(ctx, s.ep.Repository, subject, descs)
	return err
}
