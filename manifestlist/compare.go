package manifestlist

import (
	"encoding/json"
	"maps"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// cloneDescriptors is a deep copy of ds, so a merge's result shares no
// maps or slices with its inputs.
func cloneDescriptors(ds []imgspecv1.Descriptor) []imgspecv1.Descriptor {
	return manifest.OCI1IndexFromComponents(ds, nil).Manifests
}

// sameSet reports whether a and b hold equal descriptors, ignoring order.
func sameSet(a, b []imgspecv1.Descriptor) bool {
	if len(a) != len(b) {
		return false
	}
	want := map[string]int{}
	for _, d := range b {
		want[descriptorKey(d)]++
	}
	for _, d := range a {
		k := descriptorKey(d)
		if want[k] == 0 {
			return false
		}
		want[k]--
	}
	return true
}

// descriptorKey compares descriptors by their JSON encoding, which treats
// nil and empty maps and slices alike.
func descriptorKey(d imgspecv1.Descriptor) string {
	b, _ := json.Marshal(d)
	return string(b)
}

func sameList(a, b *List) bool {
	if a.MediaType != b.MediaType || a.ArtifactType != b.ArtifactType ||
		!maps.Equal(a.Annotations, b.Annotations) || len(a.Manifests) != len(b.Manifests) {
		return false
	}
	if (a.Subject == nil) != (b.Subject == nil) || (a.Subject != nil && descriptorKey(*a.Subject) != descriptorKey(*b.Subject)) {
		return false
	}
	for i := range a.Manifests {
		if descriptorKey(a.Manifests[i]) != descriptorKey(b.Manifests[i]) {
			return false
		}
	}
	return true
}
