package plugin

import (
	"fmt"
	"strings"

	"github.com/docker/go-units"
)

// The words every command uses for what it did, so that push, merge and
// copy (and their dry runs) say the same thing the same way: a blob is
// "mounted" (within a registry), "copied" (its bytes sent) or "already
// there"; a manifest is "written" or "already there"; a tag is "moved"
// from one digest to another, "written" when it is new, or "unchanged".

// plural is "1 image", "2 images", "0 images".
func plural(n int, noun string) string { return plural64(int64(n), noun) }

// plural64 counts a regular noun, or one ending in a consonant and y
// ("entry", "entries").
func plural64(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if stem, ok := strings.CutSuffix(noun, "y"); ok && stem != "" && !strings.ContainsRune("aeiou", rune(stem[len(stem)-1])) {
		return fmt.Sprintf("%d %sies", n, stem)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// humanSize is a byte count for people, in the decimal units docker push
// and docker images print ("1.05MB", "480MB"); JSON output keeps exact
// bytes.
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}
