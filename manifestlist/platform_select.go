package manifestlist

import (
	"fmt"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// SelectPlatforms is --platform's selection, one for copy and merge: which
// of l's images (attestations aside) platforms name, each by ExactPlatform.
// selected[i] is true for l.Manifests[i]. A platform no image has is an
// error naming it and what l has.
func SelectPlatforms(l *List, platforms []imgspecv1.Platform) (selected []bool, err error) {
	selected = make([]bool, len(l.Manifests))
	for _, p := range platforms {
		match := ExactPlatform(p)
		found := false
		for i, d := range l.Manifests {
			if !IsAttestation(d) && hasPlatform(d) && match.Match(d.Platform) {
				selected[i], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("no entry for platform %s; the list has %s", FormatPlatform(&p), EntriesText(l))
		}
	}
	return selected, nil
}

// EntriesText names a list's images by platform, and its nested lists as
// such, for messages about what a list holds.
func EntriesText(l *List) string {
	var have []string
	for _, d := range l.Manifests {
		switch {
		case IsAttestation(d):
		case IsList(d.MediaType):
			have = append(have, "a nested list "+d.Digest.String()[:19])
		case d.Platform == nil:
			have = append(have, "an image without a platform")
		default:
			have = append(have, FormatPlatform(d.Platform))
		}
	}
	if len(have) == 0 {
		return "no images"
	}
	return strings.Join(have, ", ")
}
