package manifestlist

import (
	"fmt"
	"slices"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotation keys BuildKit puts on attestation entries of an index.
const (
	// AnnotationReferenceType marks an entry's role; attestations carry
	// "attestation-manifest".
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest names the image an attestation describes.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
)

const attestationManifest = "attestation-manifest"

// knownOS is Go's GOOS list: every OS an image can be built for, and "wasi",
// which Docker's and containerd's Wasm images use.
var knownOS = []string{
	"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
	"linux", "netbsd", "openbsd", "plan9", "solaris", "wasi", "wasip1", "windows",
}

// knownArch lists the architectures of Go and the OCI image spec.
var knownArch = []string{
	"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le",
	"mipsle", "ppc64", "ppc64le", "riscv64", "s390x", "wasm",
}

// knownVariants lists the variants each architecture accepts; an
// architecture that is absent accepts none.
var knownVariants = map[string][]string{
	"arm": {"v5", "v6", "v7", "v8"},
	"arm64": {
		"v8", "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9",
		"v9", "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
	},
	"amd64":   {"v1", "v2", "v3", "v4"},
	"riscv64": {"rva20u64", "rva22u64", "rva23u64"},
}

// archAliases maps the names uname, Debian and RPM use to Go's names; some
// of them also imply a variant.
var archAliases = map[string]struct{ arch, variant string }{
	"x86_64":  {"amd64", ""},
	"x86-64":  {"amd64", ""},
	"aarch64": {"arm64", ""},
	"armhf":   {"arm", "v7"},
	"armel":   {"arm", "v6"},
	"i386":    {"386", ""},
}

// ParsePlatform parses "os/arch[/variant]", optionally followed by
// ":os.version" (the form FormatPlatform writes, e.g.
// "windows/amd64:10.0.17763.1"): the one syntax of --platform and of a
// platform ENTRY. What it selects is PlatformMatcher's rule. It lowercases, maps common architecture
// aliases (x86_64, aarch64, armhf, armel, i386) and validates the result.
func ParsePlatform(s string) (imgspecv1.Platform, error) {
	var p imgspecv1.Platform
	spec := strings.TrimSpace(s)
	if before, after, ok := strings.Cut(spec, ":"); ok {
		spec, p.OSVersion = before, after
		if p.OSVersion == "" {
			return p, fmt.Errorf("invalid platform %q: empty os.version after ':'", s)
		}
	}
	parts := strings.Split(strings.ToLower(spec), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return p, fmt.Errorf("invalid platform %q: expected os/arch[/variant][:os.version], e.g. linux/arm64, linux/arm/v7 or windows/amd64:10.0.17763", s)
	}
	p.OS, p.Architecture = parts[0], parts[1]
	if len(parts) == 3 {
		if parts[2] == "" {
			return p, fmt.Errorf("invalid platform %q: empty variant", s)
		}
		p.Variant = parts[2]
	}
	if err := normalizePlatform(&p); err != nil {
		return p, fmt.Errorf("invalid platform %q: %w", s, err)
	}
	if err := validatePlatform(p); err != nil {
		return p, fmt.Errorf("invalid platform %q: %w", s, err)
	}
	return p, nil
}

// normalizePlatform lowercases and resolves architecture aliases in place.
func normalizePlatform(p *imgspecv1.Platform) error {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	if alias, ok := archAliases[p.Architecture]; ok {
		if alias.variant != "" && p.Variant != "" && p.Variant != alias.variant {
			return fmt.Errorf("%s means %s/%s, which conflicts with variant %s", p.Architecture, alias.arch, alias.variant, p.Variant)
		}
		p.Architecture = alias.arch
		if alias.variant != "" {
			p.Variant = alias.variant
		}
	}
	return nil
}

// ParsePlatforms parses a comma-separated list of platforms, as taken by
// --platform flags. An empty item ("linux/amd64,,linux/arm64", a trailing
// comma) and a platform listed twice (also as an alias: linux/arm64 and
// linux/aarch64, linux/arm64/v8) are errors naming it, since either is
// usually a typo that would otherwise silently change the result.
func ParsePlatforms(s string) ([]imgspecv1.Platform, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("invalid platform list %q: expected os/arch[/variant][:os.version][,...]", s)
	}
	var out []imgspecv1.Platform
	seen := map[string]string{}
	for i, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			return nil, fmt.Errorf("invalid platform list %q: item %d is empty; expected os/arch[/variant][:os.version][,...]", s, i+1)
		}
		p, err := ParsePlatform(item)
		if err != nil {
			return nil, err
		}
		key := PlatformKey(&p, MatchPlatform)
		if prev, ok := seen[key]; ok {
			if prev == strings.TrimSpace(item) {
				return nil, fmt.Errorf("invalid platform list %q: %s is listed twice", s, prev)
			}
			return nil, fmt.Errorf("invalid platform list %q: %s and %s are the same platform", s, prev, strings.TrimSpace(item))
		}
		seen[key] = strings.TrimSpace(item)
		out = append(out, p)
	}
	return out, nil
}

// ValidatePlatform checks that the OS and architecture are ones Go knows
// and that the variant suits the architecture. "unknown" is refused: it only
// appears on attestation entries, never in what a user asks for.
func ValidatePlatform(p imgspecv1.Platform) error {
	if err := validatePlatform(p); err != nil {
		return fmt.Errorf("invalid platform %q: %w", FormatPlatform(&p), err)
	}
	return nil
}

func validatePlatform(p imgspecv1.Platform) error {
	if !slices.Contains(knownOS, p.OS) {
		return fmt.Errorf("os %q is not one of %s", p.OS, strings.Join(knownOS, ", "))
	}
	if !slices.Contains(knownArch, p.Architecture) {
		return fmt.Errorf("architecture %q is not one of %s", p.Architecture, strings.Join(knownArch, ", "))
	}
	if p.Variant == "" {
		return nil
	}
	variants, ok := knownVariants[p.Architecture]
	if !ok {
		return fmt.Errorf("architecture %s takes no variant", p.Architecture)
	}
	if !slices.Contains(variants, p.Variant) {
		return fmt.Errorf("variant must be one of %s for %s", strings.Join(variants, ", "), p.Architecture)
	}
	return nil
}

// FormatPlatform renders a platform as "os/arch[/variant]". When OSVersion is
// set it is appended after a ':' ("windows/amd64:10.0.17763.1"), a form
// ParsePlatform reads back; os.features are not shown. nil gives "".
func FormatPlatform(p *imgspecv1.Platform) string {
	if p == nil || (p.OS == "" && p.Architecture == "" && p.Variant == "" && p.OSVersion == "") {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

// MatchMode chooses which platform fields make two entries "the same
// platform" when lists are merged or entries are matched.
type MatchMode int

const (
	// MatchPlatform compares os, architecture, variant and os.version.
	MatchPlatform MatchMode = iota
	// MatchArch compares the architecture only, as pubtools-quay's
	// ManifestListMerger does: a source amd64 entry replaces every
	// destination amd64 entry, linux or windows.
	MatchArch
)

// MatchModeNames are the names ParseMatchMode accepts (merge --match), the
// default first.
var MatchModeNames = []string{"platform", "arch"}

// ParseMatchMode reads a MatchMode by its name in MatchModeNames.
func ParseMatchMode(name string) (MatchMode, error) {
	switch name {
	case "platform":
		return MatchPlatform, nil
	case "arch":
		return MatchArch, nil
	}
	return 0, fmt.Errorf("invalid --match %q: accepted: %s", name, strings.Join(MatchModeNames, ", "))
}

// PlatformKey returns a string that is equal for platforms the mode treats
// as the same. With MatchPlatform two platforms share a key exactly when
// each selects the other (the PlatformMatcher rule) once os.features are
// set aside and a Windows os.version is cut to its build: so arm64 and
// arm64/v8 share a key, as do arm and arm/v7, amd64 and amd64/v1, x86_64
// and amd64; Windows 10.0.17763.1 and 10.0.17763.5329 are one platform (the
// build is what a Windows host must match), other os.versions count whole,
// and an entry with an os.version is never the same as one without. With
// MatchArch it is the normalised architecture alone. nil gives "".
func PlatformKey(p *imgspecv1.Platform, mode MatchMode) string {
	if p == nil {
		return ""
	}
	n := NormalizePlatform(*p)
	if mode == MatchArch {
		return n.Architecture
	}
	n = identity(n)
	return FormatPlatform(&n)
}

// identity is the part of a normalised platform that PlatformKey compares:
// no os.features, a Windows os.version cut to major.minor.build.
func identity(n imgspecv1.Platform) imgspecv1.Platform {
	n.OSFeatures = nil
	if n.OS == "windows" {
		if b := windowsBuild(n.OSVersion); b != "" {
			n.OSVersion = b
		}
	}
	return n
}

// IsAttestation reports whether an index entry is a BuildKit attestation
// manifest rather than a runnable image.
func IsAttestation(d imgspecv1.Descriptor) bool {
	return d.Annotations[AnnotationReferenceType] == attestationManifest
}

// hasPlatform reports whether a descriptor names both an OS and an
// architecture, the minimum a runtime needs to pick it.
func hasPlatform(d imgspecv1.Descriptor) bool {
	return d.Platform != nil && d.Platform.OS != "" && d.Platform.Architecture != ""
}

// NormalizePlatform returns p in the canonical form of containerd's
// platforms.Normalize, so that equal platforms compare equal field by field:
// os, architecture and variant lowercased; "macos" is darwin; architecture
// aliases resolved (x86_64 and x86-64 are amd64, aarch64 is arm64, i386 is
// 386, armhf is arm/v7, armel is arm/v6); each architecture's baseline
// variant made one form (arm without a variant is arm/v7, arm64/v8 is arm64,
// amd64/v1 is amd64, a bare number gets its "v"); os.features sorted without
// repeats. os.version is kept as it is.
func NormalizePlatform(p imgspecv1.Platform) imgspecv1.Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "i386":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		if variant == "8" || variant == "v8" {
			variant = ""
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	p.Architecture, p.Variant = arch, variant
	if len(p.OSFeatures) > 0 {
		p.OSFeatures = slices.Compact(slices.Sorted(slices.Values(p.OSFeatures)))
	}
	return p
}
