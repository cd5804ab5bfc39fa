package copy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options tune Copy.
type Options struct {
	// Platforms, when set, copies only these entries of a list (and their
	// attestations) and writes a list of just them.
	Platforms []imgspecv1.Platform
	// Referrers also copies cosign-style digest tags (sha256-<hex>.sig, .att,
	// .sbom) and OCI referrers of every copied manifest, from the referrers
	// API or the referrers tag schema, and keeps the destination's tag-schema
	// index up to date where it has no API.
	Referrers bool
}

// Result is what Copy did.
type Result struct {
	Digest digest.Digest
	// Unchanged means the destination already held the digest under that tag:
	// only HEAD requests were made.
	Unchanged bool
	// Warnings name what refers to the image but was left behind: a
	// referrer that could not be copied, or a source of referrers that could
	// not be read.
	Warnings []string
}

// Copy copies the image or list src (ref: a tag or digest) to dst, tagged
// dstTag (or by digest when dstTag is empty), preserving digests unless a
// platform subset is asked for.
func Copy(ctx context.Context, src Endpoint, ref string, dst Endpoint, dstTag string, opts Options, stats *Stats) (Result, error) {
	d, err := digest.Parse(ref)
	if err != nil {
		desc, err := src.Client.HeadManifest(ctx, src.Repository, ref)
		if err != nil {
			return Result{}, err
		}
		d = desc.Digest
	}
	if len(opts.Platforms) == 0 && !opts.Referrers {
		at := dstTag
		if at == "" {
			at = d.String()
		}
		desc, err := dst.Client.HeadManifest(ctx, dst.Repository, at)
		switch {
		case err == nil && desc.Digest == d:
			return Result{Digest: d, Unchanged: true}, nil
		case errors.Is(err, registry.ErrNotFound):
			// A first copy into a repository without tags skips every
			// manifest existence check at the cost of this one request; the
			// blobs of an interrupted copy are found without extra requests
			// (see transferBlob).
			dst.New = dst.Client.RepositoryIsNew(ctx, dst.Repository)
		case err != nil:
			return Result{}, err
		}
	}
	raw, desc, err := src.Client.GetManifest(ctx, src.Repository, d.String())
	if err != nil {
		return Result{}, err
	}
	m := Manifest{Digest: d, MediaType: desc.MediaType, Raw: raw, Tag: dstTag}
	if len(opts.Platforms) > 0 {
		if m, err = subset(m, opts.Platforms); err != nil {
			return Result{}, fmt.Errorf("%s@%s: %w", src, d, err)
		}
	}
	copied := []digest.Digest{m.Digest}
	if children, _ := listChildren(m.Raw); children != nil {
		for _, c := range children {
			copied = append(copied, c.Digest)
		}
	}
	if !opts.Referrers {
		if err := Transfer(ctx, src, dst, m, stats); err != nil {
			return Result{}, err
		}
		return Result{Digest: m.Digest}, nil
	}
	// The tag is written last, once the referrers are there too: a failed
	// copy leaves it as it was.
	byDigest := m
	byDigest.Tag = ""
	if err := Transfer(ctx, src, dst, byDigest, stats); err != nil {
		return Result{}, err
	}
	res := Result{Digest: m.Digest}
	var orphaned digest.Digest
	if m.Digest != d {
		orphaned = d
	}
	res.Warnings = copyReferrers(ctx, src, dst, copied, orphaned, stats)
	if dstTag != "" {
		if _, err := dst.Client.PutManifest(ctx, dst.Repository, dstTag, m.Raw, m.MediaType); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// subset rewrites a list to the entries of the given platforms, plus the
// attestations of those entries. A platform the list lacks is an error.
func subset(m Manifest, platforms []imgspecv1.Platform) (Manifest, error) {
	l, err := manifestlist.ParseList(m.Raw, m.MediaType)
	if err != nil {
		return m, fmt.Errorf("--platform needs a list: %w", err)
	}
	keep := map[digest.Digest]bool{}
	var out []imgspecv1.Descriptor
	for _, p := range platforms {
		key := manifestlist.PlatformKey(&p, manifestlist.MatchPlatform)
		found := false
		for _, d := range l.Manifests {
			if !manifestlist.IsAttestation(d) && manifestlist.PlatformKey(d.Platform, manifestlist.MatchPlatform) == key {
				found = true
				keep[d.Digest] = true
			}
		}
		if !found {
			var have []string
			for _, d := range l.Manifests {
				if !manifestlist.IsAttestation(d) {
					have = append(have, manifestlist.FormatPlatform(d.Platform))
				}
			}
			return m, fmt.Errorf("no entry for platform %s; the list has %s", manifestlist.FormatPlatform(&p), strings.Join(have, ", "))
		}
	}
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
