package manifestlist

import (
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
