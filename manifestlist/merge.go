package manifestlist

import (
	"fmt"
	"maps"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// MergeOptions tunes Merge.
type MergeOptions struct {
	// Match chooses which platform fields identify an entry: MatchPlatform
	// (the default) or MatchArch (pubtools-quay behaviour: a source
	// architecture replaces every destination entry of that architecture,
	// whatever its OS or variant).
	Match MatchMode
	// Platforms, if set, limits what is taken from the source to the
	// entries ExactPlatform matches (each must match one); every other
	// destination entry is kept and every other source entry ignored.
	Platforms []imgspecv1.Platform
	// MediaType is "", "docker" or "oci". "" keeps the destination's type
	// (the source's when there is no destination) unless the result holds
	// OCI manifests or annotations, which force an OCI index.
	MediaType string
}

// Action says what a merge did with one entry.
type Action string

// The actions a Change reports.
const (
	ActionKept     Action = "kept"
	ActionAdded    Action = "added"
	ActionReplaced Action = "replaced"
	ActionDropped  Action = "dropped"
)

// Change describes what a merge did with one entry.
type Change struct {
	// Platform is FormatPlatform of the entry, "" for platform-less entries.
	Platform string
	// Action is what happened to the entry.
	Action Action
	// Old is the destination digest (kept, replaced, dropped); New is the
	// source digest (added, replaced). For kept entries Old == New.
	Old, New digest.Digest
	// OldPlatform is, for a replaced entry, the platform of the destination
	// entry when it differs from Platform: with MatchArch a linux/amd64
	// source entry replaces windows/amd64 too.
	OldPlatform string
	// Attestation marks attestation manifests.
	Attestation bool
	// Subject is, for attestations, the digest of the image they describe.
	Subject digest.Digest
}

// Plan reports what Merge did, so callers can print it and skip needless
// pushes.
type Plan struct {
	// Changes lists every entry of the result, then the dropped ones. A
	// source entry that replaces several destination entries (MatchArch)
	// has a change for each.
	Changes []Change
	// Unchanged means the result equals the destination: same type, index
	// annotations and entries, in the same order. Nothing needs pushing.
	Unchanged bool
	// SameAsSource means the result equals the source; the caller should
	// write the source's raw bytes so the list keeps its digest.
	SameAsSource bool
	// TypeChanged explains, when non-empty, why the list type differs from
	// the one requested or inherited.
	TypeChanged string
	// Warnings are notes for the user, e.g. platform-less entries.
	Warnings []string
}

// Merge combines src into dst following pubtools-quay's ManifestListMerger,
// keyed by full platform unless opts.Match says otherwise: the result holds
// every src entry (or the opts.Platforms subset) plus every dst entry whose
// platform src does not provide. src entries come first in src order, then
// the kept dst entries in dst order; if the result has exactly dst's entries
// dst's order is kept, so Plan.Unchanged can be reported.
//
// Attestations follow the image they describe (vnd.docker.reference.digest):
// they are kept exactly when that image is in the result. Entries without a
// platform cannot be matched: src's are kept with a warning, dst's are kept
// unless the same digest is already in the result. dst may be nil.
func Merge(src, dst *List, opts MergeOptions) (*List, *Plan, error) {
	if src == nil {
		return nil, nil, fmt.Errorf("merge: no source list")
	}
	// Lists read with ParseList are checked already; a single image's list
	// of one, made from its config, is not.
	if err := checkEntries(src.Manifests); err != nil {
		return nil, nil, fmt.Errorf("merge: source: %w", err)
	}
	if dst != nil {
		if err := checkEntries(dst.Manifests); err != nil {
			return nil, nil, fmt.Errorf("merge: destination: %w", err)
		}
	}
	// Two entries for one full platform are ambiguous in either mode; with
	// --match arch several entries of one architecture are what the mode is
	// for (linux/amd64 and windows/amd64), so they are not refused.
	if err := checkDuplicateKeys("source", src); err != nil {
		return nil, nil, err
	}
	var dstEntries []imgspecv1.Descriptor
	if dst != nil {
		if err := checkDuplicateKeys("destination", dst); err != nil {
			return nil, nil, err
		}
		dstEntries = dst.Manifests
	}
	plan := &Plan{}

	// Which source images are taken.
	take := map[int]bool{}
	if len(opts.Platforms) > 0 {
		selected, err := SelectPlatforms(src, opts.Platforms)
		if err != nil {
			return nil, nil, fmt.Errorf("SOURCE: %w", err)
		}
		for i, ok := range selected {
			if ok {
				take[i] = true
			}
		}
	} else {
		for i, m := range src.Manifests {
			if IsAttestation(m) {
				continue
			}
			take[i] = true
			if !hasPlatform(m) {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("source entry %s has no platform; kept", m.Digest))
			}
		}
	}
	provided := map[string][]imgspecv1.Descriptor{} // match key -> src entries taken, in src order
	inResult := map[digest.Digest]bool{}
	for i, m := range src.Manifests {
		if !take[i] {
			continue
		}
		inResult[m.Digest] = true
		if hasPlatform(m) {
			key := PlatformKey(m.Platform, opts.Match)
			provided[key] = append(provided[key], m)
		}
	}

	// Which destination images survive. A provided key replaces every
	// destination entry with that key: with --match arch, a SOURCE amd64
	// replaces DESTINATION's linux/amd64 and windows/amd64 alike, as
	// pubtools-quay's ManifestListMerger does.
	keepDst := map[int]bool{}
	replaced := map[digest.Digest][]imgspecv1.Descriptor{} // src digest -> dst entries it replaces
	for i, m := range dstEntries {
		if IsAttestation(m) {
			continue
		}
		if hasPlatform(m) {
			if ss, ok := provided[PlatformKey(m.Platform, opts.Match)]; ok {
				if s := replacement(ss, m); s != m.Digest {
					replaced[s] = append(replaced[s], m)
				}
				continue
			}
		}
		if !inResult[m.Digest] {
			keepDst[i] = true
			inResult[m.Digest] = true
		}
	}

	// Attestations follow their subject, whichever list they come from.
	var dropped []Change
	for i, m := range src.Manifests {
		if IsAttestation(m) && attestationKept(m, inResult, len(opts.Platforms) > 0) {
			take[i] = true
		}
	}
	attested := map[digest.Digest]bool{} // subjects src brings attestations for
	for i, m := range src.Manifests {
		if take[i] && IsAttestation(m) {
			inResult[m.Digest] = true
			attested[digest.Digest(m.Annotations[AnnotationReferenceDigest])] = true
		}
	}
	for i, m := range dstEntries {
		if !IsAttestation(m) || inResult[m.Digest] {
			continue
		}
		// src's attestations of an image supersede dst's.
		subject := digest.Digest(m.Annotations[AnnotationReferenceDigest])
		if attestationKept(m, inResult, false) && (subject == "" || !attested[subject]) {
			keepDst[i] = true
			inResult[m.Digest] = true
			continue
		}
		dropped = append(dropped, Change{
			Platform: FormatPlatform(m.Platform), Action: ActionDropped, Old: m.Digest,
			Attestation: true, Subject: digest.Digest(m.Annotations[AnnotationReferenceDigest]),
		})
	}

	// Assemble, src first; duplicates of a digest appear once.
	inDst := map[digest.Digest]bool{}
	for _, m := range dstEntries {
		inDst[m.Digest] = true
	}
	var manifests []imgspecv1.Descriptor
	seen := map[digest.Digest]bool{}
	for i, m := range src.Manifests {
		if !take[i] || seen[m.Digest] {
			continue
		}
		seen[m.Digest] = true
		manifests = append(manifests, m)
	}
	for i, m := range dstEntries {
		if keepDst[i] && !seen[m.Digest] {
			seen[m.Digest] = true
			manifests = append(manifests, m)
		}
	}
	if dst != nil && sameSet(manifests, dstEntries) {
		manifests = dstEntries
	}
	for _, m := range manifests {
		c := Change{Platform: FormatPlatform(m.Platform), Attestation: IsAttestation(m), New: m.Digest}
		if c.Attestation {
			c.Subject = digest.Digest(m.Annotations[AnnotationReferenceDigest])
		}
		if inDst[m.Digest] {
			c.Action, c.Old = ActionKept, m.Digest
			plan.Changes = append(plan.Changes, c)
		}
		for _, old := range replaced[m.Digest] {
			r := c
			r.Action, r.Old = ActionReplaced, old.Digest
			if p := FormatPlatform(old.Platform); p != c.Platform {
				r.OldPlatform = p
			}
			plan.Changes = append(plan.Changes, r)
		}
		if !inDst[m.Digest] && len(replaced[m.Digest]) == 0 {
			c.Action = ActionAdded
			plan.Changes = append(plan.Changes, c)
		}
	}
	plan.Changes = append(plan.Changes, dropped...)

	result := &List{Manifests: cloneDescriptors(manifests), ArtifactType: src.ArtifactType, Subject: src.Subject}
	result.Annotations = maps.Clone(src.Annotations)
	if len(result.Annotations) == 0 && dst != nil {
		result.Annotations = maps.Clone(dst.Annotations)
	}
	if err := chooseMergeType(src, dst, opts.MediaType, result, plan); err != nil {
		return nil, nil, err
	}
	if dst != nil {
		plan.Unchanged = sameList(result, dst)
	}
	plan.SameAsSource = sameList(result, src)
	return result, plan, nil
}

// replacement is the source entry that takes dst entry m's place among the
// entries ss that share its key: one of m's own full platform if there is
// one (with --match arch, linux/amd64 replaces linux/amd64 before
// windows/amd64 does), else the first.
func replacement(ss []imgspecv1.Descriptor, m imgspecv1.Descriptor) digest.Digest {
	key := PlatformKey(m.Platform, MatchPlatform)
	for _, s := range ss {
		if s.Digest == m.Digest || PlatformKey(s.Platform, MatchPlatform) == key {
			return s.Digest
		}
	}
	return ss[0].Digest
}

// attestationKept reports whether an attestation belongs in the result:
// when its subject is there, or, lacking a subject, when nothing restricts
// the merge to chosen platforms.
func attestationKept(m imgspecv1.Descriptor, inResult map[digest.Digest]bool, subset bool) bool {
	subject := digest.Digest(m.Annotations[AnnotationReferenceDigest])
	if subject == "" {
		return !subset
	}
	return inResult[subject]
}

func checkDuplicateKeys(which string, l *List) error {
	seen := map[string]imgspecv1.Descriptor{}
	for _, m := range l.Manifests {
		if IsAttestation(m) || !hasPlatform(m) {
			continue
		}
		key := PlatformKey(m.Platform, MatchPlatform)
		if prev, ok := seen[key]; ok && prev.Digest != m.Digest {
			return fmt.Errorf("%s list has two entries for platform %s: %s and %s", which, key, prev.Digest, m.Digest)
		}
		seen[key] = m
	}
	return nil
}
