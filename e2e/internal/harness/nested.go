package harness

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Descriptor returns the index entry for the list: its media type, digest
// and size, without a platform (an index whose entry is an index, as
// buildx and regctl write nested indexes).
func (l List) Descriptor() Descriptor {
	return Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: int64(len(l.Raw))}
}

// PushNestedIndex pushes, as repo:tag, an OCI index whose entries are the
// given lists (already in repo, by digest or tag) followed by the given
// images. It returns the outer index; its Images are the images given
// directly, not those of the inner lists.
func (c *Client) PushNestedIndex(repo, tag string, inner []List, images []Image, annotations map[string]string) (List, error) {
	ix := Index{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, Annotations: annotations}
	for _, l := range inner {
		if l.Repo != repo {
			return List{}, fmt.Errorf("inner list %s is in %s, not %s", l.Digest, l.Repo, repo)
		}
		ix.Manifests = append(ix.Manifests, l.Descriptor())
	}
	l := List{Repo: repo, Tag: tag, MediaType: MediaTypeOCIIndex}
	if err := c.addImages(&l, &ix, repo, images); err != nil {
		return List{}, err
	}
	raw, err := json.MarshalIndent(ix, "", "   ")
	if err != nil {
		return List{}, err
	}
	l.Raw = raw
	if l.Digest, err = c.PutManifest(repo, tag, MediaTypeOCIIndex, raw); err != nil {
		return List{}, err
	}
	return l, nil
}

// CosignTag is the tag cosign gives what it attaches to digest: suffix
// ".sig", ".att" or ".sbom" after "sha256-<hex>".
func CosignTag(digest, suffix string) string {
	return strings.Replace(digest, ":", "-", 1) + suffix
}

// PushCosignArtifact pushes, as repo:<CosignTag(subject, suffix)>, a small
// OCI image standing in for what cosign attaches (a signature, attestation
// or SBOM of subject), and returns its digest.
func (c *Client) PushCosignArtifact(repo, subject, suffix string) (string, error) {
	img, err := c.PushImage(repo, CosignTag(subject, suffix), "linux/amd64", ImageOptions{OCI: true})
	if err != nil {
		return "", fmt.Errorf("pushing %s of %s: %w", suffix, subject, err)
	}
	return img.Digest, nil
}

// PushTagSchemaReferrer pushes an OCI artifact of artifactType whose
// subject is subject, and the referrers tag-schema index (tag
// "sha256-<hex of subject>") listing it, as a client writes them on a
// registry without the referrers API. It returns the artifact.
func (c *Client) PushTagSchemaReferrer(repo string, subject Descriptor, artifactType string) (Referrer, error) {
	ref, err := c.PushReferrer(repo, subject, artifactType)
	if err != nil {
		return Referrer{}, err
	}
	ix := Index{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, Manifests: []Descriptor{{
		MediaType: MediaTypeOCIManifest, Digest: ref.Digest, Size: int64(len(ref.Raw)), ArtifactType: artifactType,
	}}}
	raw, err := json.Marshal(ix)
	if err != nil {
		return Referrer{}, err
	}
	if _, err := c.PutManifest(repo, CosignTag(subject.Digest, ""), MediaTypeOCIIndex, raw); err != nil {
		return Referrer{}, fmt.Errorf("pushing the referrers index of %s: %w", subject.Digest, err)
	}
	return ref, nil
}

// PushRepeatedGraph pushes to repo, where a and b are, a graph of levels
// OCI indexes that repeat their entries: list 1 names a and b, repeat
// times each; list k names a and list k-1, repeat times each. The last
// list is tagged tag. It returns the lists, list 1 first.
func (c *Client) PushRepeatedGraph(repo, tag string, a, b Image, levels, repeat int) ([]List, error) {
	var lists []List
	below := b.Descriptor()
	for k := 1; k <= levels; k++ {
		ix := Index{SchemaVersion: 2, MediaType: MediaTypeOCIIndex}
		for range repeat {
			ix.Manifests = append(ix.Manifests, a.Descriptor(), below)
		}
		l := List{Repo: repo, MediaType: MediaTypeOCIIndex}
		if k == levels {
			l.Tag = tag
		}
		var err error
		if l.Raw, err = json.Marshal(ix); err != nil {
			return nil, err
		}
		ref := Digest(l.Raw)
		if l.Tag != "" {
			ref = l.Tag
		}
		if l.Digest, err = c.PutManifest(repo, ref, MediaTypeOCIIndex, l.Raw); err != nil {
			return nil, fmt.Errorf("pushing list %d of %d: %w", k, levels, err)
		}
		lists = append(lists, l)
		below = l.Descriptor()
	}
	return lists, nil
}
