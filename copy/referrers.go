package copy

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// cosignSuffixes are the tag suffixes cosign uses for what it attaches to an
// image digest.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// copyReferrers copies what is attached to each digest: cosign's digest tags
// (found with one tag listing) and, where the registry serves the OCI
// referrers API, the referrers it lists.
func copyReferrers(ctx context.Context, src, dst Endpoint, digests []digest.Digest, stats *Stats) error {
	tags, err := src.Client.Tags(ctx, src.Repository, 0)
	if err != nil {
		return fmt.Errorf("list tags of %s: %w", src, err)
	}
	have := map[string]bool{}
	for _, t := range tags {
		have[t] = true
	}
	var todo []Manifest
	for _, d := range digests {
		base := d.Algorithm().String() + "-" + d.Encoded()
		for _, suffix := range cosignSuffixes {
			if have[base+suffix] {
				todo = append(todo, Manifest{Tag: base + suffix})
			}
		}
		refs, err := src.Client.Referrers(ctx, src.Repository, d)
		if err != nil {
			return err
		}
		for _, r := range refs {
			todo = append(todo, Manifest{Digest: r.Digest, MediaType: r.MediaType})
		}
	}
	return ForEach(ctx, todo, func(ctx context.Context, _ int, m Manifest) error {
		if m.Tag != "" {
			raw, desc, err := src.Client.GetManifest(ctx, src.Repository, m.Tag)
			if err != nil {
				return err
			}
			m.Digest, m.MediaType, m.Raw = desc.Digest, desc.MediaType, raw
		}
		return Transfer(ctx, src, dst, m, stats)
	})
}
