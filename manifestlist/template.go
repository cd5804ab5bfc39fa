package manifestlist

import (
	"fmt"
	"regexp"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// emptyVariant matches the VARIANT placeholder with the separator before it,
// both of which disappear for platforms without a variant.
var emptyVariant = regexp.MustCompile(`[-_.:/]?VARIANT`)

// ExpandTemplate turns a manifest-tool style image template such as
// "registry/app:OS-ARCH-VARIANT" into the reference of one platform's image.
// For a platform without a variant, "VARIANT" and the separator before it
// disappear: linux/amd64 gives "registry/app:linux-amd64".
func ExpandTemplate(tmpl string, p imgspecv1.Platform) string {
	if p.Variant == "" {
		tmpl = emptyVariant.ReplaceAllString(tmpl, "")
	}
	return strings.NewReplacer("OS", p.OS, "ARCH", p.Architecture, "VARIANT", p.Variant).Replace(tmpl)
}

// templatePlaceholders are the words ExpandTemplate replaces.
var templatePlaceholders = []string{"OS", "ARCH", "VARIANT"}

// CheckTemplate refuses a template that would name the same image for two
// of the platforms, which would put one image in the list under several
// platforms: one without any placeholder, or one whose placeholders do not
// tell two of the platforms apart (ARCH alone for linux/arm/v6 and
// linux/arm/v7).
func CheckTemplate(tmpl string, platforms []imgspecv1.Platform) error {
	has := false
	for _, ph := range templatePlaceholders {
		has = has || strings.Contains(tmpl, ph)
	}
	if !has {
		return fmt.Errorf("invalid --template %q: it has no placeholder; use OS, ARCH and VARIANT, as in registry.example.com/app:1.0-OS-ARCH-VARIANT", tmpl)
	}
	seen := map[string]string{}
	for _, p := range platforms {
		ref, pl := ExpandTemplate(tmpl, p), FormatPlatform(&p)
		if prev, ok := seen[ref]; ok {
			return fmt.Errorf("invalid --template %q: it names %s for both %s and %s; use the placeholders OS, ARCH and VARIANT that tell them apart", tmpl, ref, prev, pl)
		}
		seen[ref] = pl
	}
	return nil
}
