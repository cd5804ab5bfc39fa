package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// VerifyOptions tune Verify and VerifyDraft.
type VerifyOptions struct {
	// Deep also checks that every layer of every image is in the
	// repository (a HEAD request each). Without it, manifests are checked,
	// and image configs, which are read to compare platforms.
	Deep bool
}

// ProblemKind classifies a Problem.
type ProblemKind string

// The kinds of problem Verify reports.
const (
	// ProblemPlatform: an entry's platform disagrees with its image config.
	ProblemPlatform ProblemKind = "platform"
	// ProblemDuplicate: two images of the list have the same platform.
	ProblemDuplicate ProblemKind = "duplicate-platform"
	// ProblemMissing: an entry, config or layer is not in the repository.
	ProblemMissing ProblemKind = "missing"
	// ProblemOrphan: an attestation describes an image the list lacks.
	ProblemOrphan ProblemKind = "orphan-attestation"
	// ProblemDigest: a manifest's bytes do not hash to its descriptor's digest.
	ProblemDigest ProblemKind = "digest-mismatch"
	// ProblemSize: a manifest's length is not its descriptor's size.
	ProblemSize ProblemKind = "size-mismatch"
)

// Problem is one thing wrong with a list.
type Problem struct {
	Kind ProblemKind `json:"kind"`
	// Digest is the entry concerned.
	Digest digest.Digest `json:"digest,omitempty"`
	// Platform is the entry's platform, "" for none or an attestation.
	Platform string `json:"platform,omitempty"`
	// Message is the whole problem on one line.
	Message string `json:"message"`
}

// String is the problem's one-line message.
func (p Problem) String() string { return p.Message }

// Report is what Verify found.
type Report struct {
	// Reference is what was verified: a registry reference or a draft name.
	Reference string `json:"reference"`
	// Digest is the list's digest (a draft's: what push would write).
	Digest    digest.Digest `json:"digest,omitempty"`
	MediaType string        `json:"mediaType"`
	Entries   int           `json:"entries"`
	// Source says what was verified: "draft", "registry", "oci",
	// "oci-archive" or "docker-archive".
	Source string `json:"source"`
	// Deep says whether layers were checked.
	Deep     bool      `json:"deep"`
	Problems []Problem `json:"problems"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the list ref (a tag or digest) of the repository ep: that
// every entry, and the config of every image, is in that repository (with
// opts.Deep every layer too), that each manifest matches the digest and
// size of its descriptor, that each image's platform agrees with its config
// (os, architecture, os.version, and variant where the config has one), that no two
// images share a platform, and that every attestation describes an image of
// the list. Problems go in the report; the error is for a list that cannot
// be read at all.
func Verify(ctx context.Context, ep Endpoint, ref string, opts VerifyOptions) (*Report, error) {
	raw, desc, err := ep.Client.GetManifest(ctx, ep.Repository, ref)
	if err != nil {
		return nil, err
	}
	r, err := verifyList(ctx, ep, ep.String()+refSeparator(ref)+ref, raw, desc.MediaType, desc.Digest, opts)
	if err == nil {
		r.Source = "registry"
	}
	return r, err
}

// verifyList checks the list raw (of digest d, served as served), which
// name names, whose entries are in at.
func verifyList(ctx context.Context, at holder, name string, raw []byte, served string, d digest.Digest, opts VerifyOptions) (*Report, error) {
	l, err := manifestlist.ParseList(raw, served)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	items := make([]verifyItem, len(l.Manifests))
	for i, m := range l.Manifests {
		items[i] = verifyItem{desc: m, at: at}
	}
	r := &Report{Reference: name, Digest: d, MediaType: l.MediaType, Deep: opts.Deep}
	return r, verifyItems(ctx, r, l, items, opts)
}

// VerifyDraft checks a draft as Verify checks a list, before it is pushed:
// each entry's bytes against its descriptor, and its config (and with
// opts.Deep its layers) in the repository its source names, where push
// will read them; endpoint resolves a source reference to that repository.
func VerifyDraft(ctx context.Context, d *manifestlist.Draft, endpoint func(source string) (Endpoint, error), opts VerifyOptions) (*Report, error) {
	l, err := d.List()
	if err != nil {
		return nil, err
	}
	// push writes the list over entries of its own repository in place,
	// without putting them: those must be there.
	target, _ := registry.ParseReference(d.Name)
	items := make([]verifyItem, len(d.Entries))
	for i, e := range d.Entries {
		ep, err := endpoint(e.Source)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.Label(), err)
		}
		src, _ := registry.ParseReference(e.Source)
		inPlace := src.Host != "" && src.Host == target.Host && src.Repository == target.Repository
		items[i] = verifyItem{desc: e.Descriptor, raw: e.Raw, at: ep, draft: true, inPlace: inPlace}
	}
	r := &Report{Reference: d.Name, MediaType: l.MediaType, Deep: opts.Deep, Source: "draft"}
	if raw, _, err := d.Build(); err == nil {
		r.Digest = digest.FromBytes(raw)
	}
	return r, verifyItems(ctx, r, l, items, opts)
}

// verifyDraft is VerifyDraft reading each entry's repository through sess,
// one token for all of them.
func verifyDraft(ctx context.Context, d *manifestlist.Draft, sess *registry.Session, opts VerifyOptions) (*Report, error) {
	for _, e := range d.Entries {
		if src, err := registry.ParseReference(e.Source); err == nil {
			sess.Want(src.Host, src.Repository, "pull")
		}
	}
	return VerifyDraft(ctx, d, func(source string) (Endpoint, error) {
		src, err := registry.ParseReference(source)
		if err != nil {
			return Endpoint{}, err
		}
		c, err := sess.Client(ctx, src.Host)
		return Endpoint{Client: c, Repository: src.Repository}, err
	}, opts)
}

func refSeparator(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}

// verifyItem is one entry and where it must be.
type verifyItem struct {
	desc imgspecv1.Descriptor
	// raw is the manifest a draft holds; nil means read it from at.
	raw   []byte
	at    holder
	draft bool
	// inPlace: a draft's entry push does not put, as it lives in the
	// repository the list goes to; it must be there.
	inPlace bool
	// within names the nested lists above the entry, outermost first, for
	// messages about an entry of a nested list.
	within []digest.Digest
}

func verifyItems(ctx context.Context, r *Report, l *manifestlist.List, items []verifyItem, opts VerifyOptions) error {
	r.Entries = len(items)
	per := make([][]Problem, len(items))
	reads := newVerifyReads()
	err := ForEach(ctx, items, func(ctx context.Context, i int, it verifyItem) error {
		ps, err := verifyEntry(ctx, it, opts, reads)
		per[i] = ps
		return err
	})
	if err != nil {
		return err
	}
	r.Problems = append(r.Problems, listProblems(l)...)
	for _, ps := range per {
		r.Problems = append(r.Problems, ps...)
	}
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	return nil
}

// listProblems are the problems the list shows without any request:
// duplicate platforms and orphaned attestations.
func listProblems(l *manifestlist.List) []Problem {
	var out []Problem
	seen := map[string]digest.Digest{}
	listed := map[digest.Digest]bool{}
	for _, m := range l.Manifests {
		if !manifestlist.IsAttestation(m) {
			listed[m.Digest] = true
		}
	}
	for _, m := range l.Manifests {
		if manifestlist.IsAttestation(m) {
			subject := digest.Digest(m.Annotations[manifestlist.AnnotationReferenceDigest])
			if !listed[subject] {
				out = append(out, Problem{Kind: ProblemOrphan, Digest: m.Digest,
					Message: fmt.Sprintf("attestation %s describes %s, which the list does not hold", m.Digest, orNone(subject))})
			}
			continue
		}
		if m.Platform == nil || m.Platform.OS == "" || m.Platform.Architecture == "" {
			continue
		}
		key := manifestlist.PlatformKey(m.Platform, manifestlist.MatchPlatform)
		if first, dup := seen[key]; dup {
			out = append(out, Problem{Kind: ProblemDuplicate, Digest: m.Digest, Platform: key,
				Message: fmt.Sprintf("platform %s: entries %s and %s both have it", key, first, m.Digest)})
			continue
		}
		seen[key] = m.Digest
	}
	return out
}

func orNone(d digest.Digest) string {
	if d == "" {
		return "no image"
	}
	return d.String()
}

// verifyEntry checks one entry: its bytes, its presence, its config and,
// with opts.Deep, its layers.
func verifyEntry(ctx context.Context, it verifyItem, opts VerifyOptions, reads *verifyReads) ([]Problem, error) {
	d := it.desc
	platform := ""
	if !manifestlist.IsAttestation(d) {
		platform = manifestlist.FormatPlatform(d.Platform)
	}
	what := "entry " + d.Digest.String()
	if platform != "" {
		what = "entry " + platform + " (" + d.Digest.String() + ")"
	} else if manifestlist.IsAttestation(d) {
		what = "attestation " + d.Digest.String()
	}
	for i := len(it.within) - 1; i >= 0; i-- {
		what += " of nested list " + it.within[i].String()
	}
	problem := func(kind ProblemKind, format string, args ...any) Problem {
		return Problem{Kind: kind, Digest: d.Digest, Platform: platform, Message: what + ": " + fmt.Sprintf(format, args...)}
	}
	raw := it.raw
	if it.draft {
		// push reads manifests from the draft, not from the source.
		if got := digest.FromBytes(raw); got != d.Digest {
			return []Problem{problem(ProblemDigest, "the manifest's bytes have digest %s", got)}, nil
		}
		if it.inPlace {
			if _, err := reads.manifest(ctx, it.at, d.Digest); errors.Is(err, registry.ErrNotFound) {
				return []Problem{problem(ProblemMissing, "manifest not in %s, where push expects it (deleted since create?)", it.at)}, nil
			} else if err != nil {
				return nil, err
			}
		}
	} else {
		var err error
		raw, err = reads.manifest(ctx, it.at, d.Digest)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			return []Problem{problem(ProblemMissing, "manifest not in %s", it.at)}, nil
		case errors.Is(err, registry.ErrDigestMismatch):
			return []Problem{problem(ProblemDigest, "%s serves other bytes for this digest", it.at)}, nil
		case err != nil:
			return nil, err
		}
	}
	var out []Problem
	if int64(len(raw)) != d.Size {
		out = append(out, problem(ProblemSize, "the descriptor says %d bytes, the manifest has %d", d.Size, len(raw)))
	}
	p, err := manifestlist.Parse(raw, d.MediaType)
	if err != nil {
		if jerr := json.Unmarshal(raw, new(any)); jerr != nil {
			return append(out, problem(ProblemDigest, "the manifest is not JSON: %v", jerr)), nil
		}
		return out, nil // a kind verify does not look into
	}
	if p.Kind == manifestlist.KindList {
		if !opts.Deep {
			return out, nil
		}
		ps, err := verifyNested(ctx, it, raw, opts, reads)
		return append(out, ps...), err
	}
	if p.Config == nil {
		return out, nil
	}
	layers := p.Blobs // the config first, foreign layers apart
	if isImageConfigType(p.Config.MediaType) && !manifestlist.IsAttestation(d) {
		layers = layers[1:]
		cfg, err := reads.config(ctx, it.at, p.Config.Digest)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			out = append(out, problem(ProblemMissing, "config %s not in %s", p.Config.Digest, it.at))
		case err != nil:
			return nil, err
		default:
			if msg := platformProblem(d.Platform, cfg); msg != "" {
				out = append(out, problem(ProblemPlatform, "%s", msg))
			}
		}
	}
	if !opts.Deep {
		return out, nil
	}
	for _, b := range layers {
		ok, err := reads.blobExists(ctx, it.at, b.Digest)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, problem(ProblemMissing, "blob %s not in %s", b.Digest, it.at))
		}
	}
	return out, nil
}

// nestedDepth bounds how deep verify descends into lists of lists; it
// also ends a cycle a registry might present.
const nestedDepth = 8

// verifyNested checks the entries of a nested list (raw, the entry it)
// as the top list's are checked, at any depth: a missing grandchild is
// reported with the lists above it.
func verifyNested(ctx context.Context, it verifyItem, raw []byte, opts VerifyOptions, reads *verifyReads) ([]Problem, error) {
	within := append(slices.Clip(it.within), it.desc.Digest)
	if len(within) > nestedDepth {
		return []Problem{{Kind: ProblemDigest, Digest: it.desc.Digest,
			Message: fmt.Sprintf("nested list %s: lists nested more than %d deep", it.desc.Digest, nestedDepth)}}, nil
	}
	l, err := manifestlist.ParseList(raw, "")
	if err != nil {
		return []Problem{{Kind: ProblemDigest, Digest: it.desc.Digest,
			Message: fmt.Sprintf("nested list %s: %v", it.desc.Digest, err)}}, nil
	}
	per := make([][]Problem, len(l.Manifests))
	err = ForEach(ctx, l.Manifests, func(ctx context.Context, i int, d imgspecv1.Descriptor) error {
		ps, err := verifyEntry(ctx, verifyItem{desc: d, at: it.at, within: within}, opts, reads)
		per[i] = ps
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, p := range listProblems(l) {
		p.Message = "nested list " + it.desc.Digest.String() + ": " + p.Message
		out = append(out, p)
	}
	for _, ps := range per {
		out = append(out, ps...)
	}
	return out, nil
}

func isImageConfigType(mt string) bool {
	return mt == "application/vnd.docker.container.image.v1+json" || mt == imgspecv1.MediaTypeImageConfig
}

// platformProblem compares an entry's platform with its image config
// (manifestlist.ConfigContradiction).
func platformProblem(p *imgspecv1.Platform, cfg []byte) string {
	var c imgspecv1.Platform
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Sprintf("the image config is not JSON: %v", err)
	}
	return manifestlist.ConfigContradiction(p, &c)
}

// ProblemKinds lists every kind, for documentation and completion.
var ProblemKinds = slices.Clip([]ProblemKind{ProblemPlatform, ProblemDuplicate, ProblemMissing, ProblemOrphan, ProblemDigest, ProblemSize})
