package manifestlist

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// DiffAction says what became of one platform between two lists.
type DiffAction string

// The actions of a Diff, from the first list to the second.
const (
	// DiffAdded is a platform only the second list has.
	DiffAdded DiffAction = "added"
	// DiffRemoved is a platform only the first list has.
	DiffRemoved DiffAction = "removed"
	// DiffChanged is a platform both have with different descriptors.
	DiffChanged DiffAction = "changed"
	// DiffSame is a platform both have with the same descriptor.
	DiffSame DiffAction = "same"
)

// PlatformDiff is one platform's row of a Diff.
type PlatformDiff struct {
	// Platform is the entry's platform (FormatPlatform), or "attestation of
	// PLATFORM" for an attestation, keyed by the platform of its image.
	Platform string `json:"platform"`
	// Action is added, removed, changed or same.
	Action DiffAction `json:"action"`
	// Old and New are the entry's digest in the first and second list;
	// empty on the side that lacks it.
	Old digest.Digest `json:"old,omitempty"`
	New digest.Digest `json:"new,omitempty"`
	// Details name what changed besides the digest (size, media type,
	// platform fields, annotations).
	Details []string `json:"details,omitempty"`
	// Attestation marks an attestation entry.
	Attestation bool `json:"attestation,omitempty"`
}

// AnnotationDiff is one index annotation that differs.
type AnnotationDiff struct {
	Key string `json:"key"`
	// Old and New are the values; a nil pointer means the list lacks the key.
	Old *string `json:"old,omitempty"`
	New *string `json:"new,omitempty"`
}

// Diff compares two lists: per platform, then the list type, the index
// annotations and the order of the entries.
type Diff struct {
	Platforms []PlatformDiff `json:"platforms"`
	// OldMediaType and NewMediaType are set when the list types differ.
	OldMediaType string           `json:"oldMediaType,omitempty"`
	NewMediaType string           `json:"newMediaType,omitempty"`
	Annotations  []AnnotationDiff `json:"annotations,omitempty"`
	// Reordered means both lists hold the same entries in another order.
	Reordered bool `json:"reordered,omitempty"`
	// Other names differences in artifactType or subject.
	Other []string `json:"other,omitempty"`
}

// Equal reports whether the diff found no difference.
func (d Diff) Equal() bool {
	for _, p := range d.Platforms {
		if p.Action != DiffSame {
			return false
		}
	}
	return d.OldMediaType == "" && len(d.Annotations) == 0 && !d.Reordered && len(d.Other) == 0
}

// Compare describes how list b differs from list a; a nil list is an empty
// one (a tag that does not exist yet). Entries are matched by platform (os,
// architecture, variant, os.version); when a list has several entries of one
// platform, they are matched in list order. Attestations are matched by the
// platform of the image they describe.
func Compare(a, b *List) Diff {
	var d Diff
	ka, kb := diffKeys(a), diffKeys(b)
	ia, ib := indexByKey(ka), indexByKey(kb)
	order := slices.Clone(ka)
	for _, k := range kb {
		if _, ok := ia[k.key]; !ok {
			order = append(order, k)
		}
	}
	for _, k := range order {
		row := PlatformDiff{Platform: k.label, Attestation: k.attestation}
		ea, inA := ia[k.key]
		eb, inB := ib[k.key]
		switch {
		case inA && !inB:
			row.Action, row.Old = DiffRemoved, a.Manifests[ea].Digest
		case !inA && inB:
			row.Action, row.New = DiffAdded, b.Manifests[eb].Digest
		default:
			da, db := a.Manifests[ea], b.Manifests[eb]
			row.Old, row.New = da.Digest, db.Digest
			row.Details = descriptorChanges(da, db)
			row.Action = DiffSame
			if da.Digest != db.Digest || len(row.Details) > 0 {
				row.Action = DiffChanged
			}
		}
		d.Platforms = append(d.Platforms, row)
	}
	mta, mtb := mediaTypeOf(a), mediaTypeOf(b)
	if a != nil && b != nil && mta != mtb {
		d.OldMediaType, d.NewMediaType = mta, mtb
	}
	var annA, annB map[string]string
	if a != nil {
		annA = a.Annotations
	}
	if b != nil {
		annB = b.Annotations
	}
	d.Annotations = annotationChanges(annA, annB)
	if a != nil && b != nil {
		if a.ArtifactType != b.ArtifactType {
			d.Other = append(d.Other, fmt.Sprintf("artifactType %q → %q", a.ArtifactType, b.ArtifactType))
		}
		if !reflect.DeepEqual(a.Subject, b.Subject) {
			d.Other = append(d.Other, fmt.Sprintf("subject %s → %s", subjectDigest(a.Subject), subjectDigest(b.Subject)))
		}
		d.Reordered = d.Equal() && !slices.EqualFunc(ka, kb, func(x, y diffKey) bool { return x.key == y.key })
	}
	return d
}

func subjectDigest(s *imgspecv1.Descriptor) string {
	if s == nil {
		return "none"
	}
	return s.Digest.String()
}

func mediaTypeOf(l *List) string {
	if l == nil {
		return ""
	}
	return l.MediaType
}

// diffKey identifies an entry across two lists.
type diffKey struct {
	key, label  string
	attestation bool
}

func diffKeys(l *List) []diffKey {
	if l == nil {
		return nil
	}
	platformOf := map[digest.Digest]string{}
	for _, m := range l.Manifests {
		if !IsAttestation(m) {
			platformOf[m.Digest] = PlatformKey(m.Platform, MatchPlatform)
		}
	}
	seen := map[string]int{}
	out := make([]diffKey, 0, len(l.Manifests))
	for _, m := range l.Manifests {
		var k diffKey
		if IsAttestation(m) {
			subject := digest.Digest(m.Annotations[AnnotationReferenceDigest])
			p, ok := platformOf[subject]
			if !ok {
				p = "unlisted " + subject.String()
			}
			k = diffKey{key: "attestation " + p, label: "attestation of " + p, attestation: true}
		} else {
			p := PlatformKey(m.Platform, MatchPlatform)
			if p == "" {
				p = "no platform"
			}
			k = diffKey{key: p, label: p}
		}
		n := seen[k.key]
		seen[k.key]++
		if n > 0 {
			k.key = fmt.Sprintf("%s#%d", k.key, n)
		}
		out = append(out, k)
	}
	return out
}

func indexByKey(keys []diffKey) map[string]int {
	out := make(map[string]int, len(keys))
	for i, k := range keys {
		out[k.key] = i
	}
	return out
}

// descriptorChanges names what differs between two descriptors of one
// platform besides the digest.
func descriptorChanges(a, b imgspecv1.Descriptor) []string {
	var out []string
	if a.Size != b.Size {
		out = append(out, fmt.Sprintf("size %d → %d", a.Size, b.Size))
	}
	if a.MediaType != b.MediaType {
		out = append(out, fmt.Sprintf("mediaType %s → %s", a.MediaType, b.MediaType))
	}
	if a.ArtifactType != b.ArtifactType {
		out = append(out, fmt.Sprintf("artifactType %q → %q", a.ArtifactType, b.ArtifactType))
	}
	if pa, pb := platformText(a.Platform), platformText(b.Platform); pa != pb {
		out = append(out, fmt.Sprintf("platform %s → %s", pa, pb))
	}
	for _, c := range annotationChanges(a.Annotations, b.Annotations) {
		out = append(out, "annotation "+c.String())
	}
	if !slices.Equal(a.URLs, b.URLs) {
		out = append(out, "urls differ")
	}
	return out
}

// platformText is the whole platform, os.features included.
func platformText(p *imgspecv1.Platform) string {
	if p == nil {
		return "none"
	}
	s := FormatPlatform(p)
	if len(p.OSFeatures) > 0 {
		s += fmt.Sprintf(" %v", p.OSFeatures)
	}
	return s
}

func annotationChanges(a, b map[string]string) []AnnotationDiff {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []AnnotationDiff
	for _, k := range keys {
		va, inA := a[k]
		vb, inB := b[k]
		if inA == inB && va == vb {
			continue
		}
		c := AnnotationDiff{Key: k}
		if inA {
			c.Old = &va
		}
		if inB {
			c.New = &vb
		}
		out = append(out, c)
	}
	return out
}

// String is `KEY: "old" → "new"`, with "(none)" for a missing side.
func (c AnnotationDiff) String() string {
	q := func(v *string) string {
		if v == nil {
			return "(none)"
		}
		return fmt.Sprintf("%q", *v)
	}
	return fmt.Sprintf("%s: %s → %s", c.Key, q(c.Old), q(c.New))
}
