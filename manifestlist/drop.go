package manifestlist

import (
	"fmt"
	"slices"

	digest "github.com/opencontainers/go-digest"
)

// Drop removes the entries the selectors name (each as Find reads it) and
// the attestations of every dropped image, and returns what it removed, in
// list order. Every selector is resolved before anything is removed, so a
// bad one changes nothing. Dropping every image is an error: a list without
// an image is no use to anyone, and `docker mlist rm` removes a draft.
func (d *Draft) Drop(selectors ...string) ([]Entry, error) {
	if len(selectors) == 0 {
		return nil, fmt.Errorf("drop from %s: no entry named", d.Name)
	}
	gone := map[int]bool{}
	for _, sel := range selectors {
		i, err := d.Find(sel)
		if err != nil {
			return nil, err
		}
		gone[i] = true
	}
	dropped := map[digest.Digest]bool{}
	for i := range gone {
		dropped[d.Entries[i].Descriptor.Digest] = true
	}
	images := 0
	for i, e := range d.Entries {
		if IsAttestation(e.Descriptor) {
			if dropped[digest.Digest(e.Descriptor.Annotations[AnnotationReferenceDigest])] {
				gone[i] = true
			}
			continue
		}
		if !gone[i] {
			images++
		}
	}
	if images == 0 {
		return nil, fmt.Errorf("drop from %s: it would leave no image; remove the draft with docker mlist rm", d.Name)
	}
	var out []Entry
	kept := d.Entries[:0:0]
	for i, e := range d.Entries {
		if gone[i] {
			out = append(out, e)
		} else {
			kept = append(kept, e)
		}
	}
	d.Entries = slices.Clip(kept)
	return out, nil
}

// Label names an entry for messages: its source (or digest) and its
// platform, "attestation" for an attestation.
func (e Entry) Label() string { return e.label() }
