package manifestlist

import "fmt"

// CheckDuplicates refuses two images with the same platform, which a runtime
// could not choose between. Unlike CheckPlatforms it accepts entries without
// a platform, which annotate can still fix before a push.
func (d *Draft) CheckDuplicates() error {
	seen := map[string]int{}
	for i, e := range d.Entries {
		if IsAttestation(e.Descriptor) || !hasPlatform(e.Descriptor) {
			continue
		}
		key := PlatformKey(e.Descriptor.Platform, MatchPlatform)
		if j, ok := seen[key]; ok {
			return fmt.Errorf("entries %s and %s both have platform %s", d.Entries[j].name(), e.name(), key)
		}
		seen[key] = i
	}
	return nil
}
