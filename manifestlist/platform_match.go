package manifestlist

import (
	"slices"
	"strconv"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// PlatformMatcher is the one platform rule: every command that selects
// entries by platform (create, annotate, drop, merge --platform, copy
// --platform and what copy picks for a single-image destination) asks one,
// and PlatformKey, which says when two entries are the same platform (diff,
// verify, merge, duplicate checks), is built from the same rule. Make one
// with ExactPlatform or OnlyPlatform.
//
// A platform p is selected by a wanted platform w when, both normalised
// (NormalizePlatform, containerd's platforms.Normalize):
//  1. os, architecture and variant are equal;
//  2. os.version: w has none, or p's equals w's, or w's is a prefix of p's
//     ending where p's has a dot: "10.0.17763" selects 10.0.17763.5329 (any
//     update of that build), "10.0.17763.5329" selects that update alone,
//     "10.0.1776" selects neither. An entry without an os.version is not
//     selected by a w with one: the user asked for a version the entry does
//     not claim. This differs from containerd's matcher, which is a host's
//     view (any update of the host's build, and entries without a version
//     run anywhere), not a selector's;
//  3. os.features: w has none, or p has every one of w's (as
//     go-containerregistry's Platform.Satisfies). containerd ignores
//     os.features; the OCI image-index spec makes them requirements of the
//     entry, so a selector naming none selects entries whatever theirs
//     ("windows/amd64" selects an entry requiring win32k).
//
// OnlyPlatform also accepts what runs on w, in order of preference:
//   - arm/vN: arm/vN-1 down to arm/v5 (arm/v7 takes v7, v6, v5);
//   - arm64 (v8): arm/v8, v7, v6, v5; arm64/v8.N: v8.N-1 down to v8 first;
//     arm64/v9.N: v9.N-1 down to v9, then v8.N+5 down to v8 (v9.0 forked
//     from v8.5), then the arm ones;
//   - amd64/vN: amd64/vN-1 down to amd64 (v1), then 386.
type PlatformMatcher struct {
	vector []imgspecv1.Platform // normalised, most preferred first
}

// ExactPlatform matches want alone (containerd's platforms.OnlyStrict):
// the normalised forms must agree, so linux/arm64 and linux/arm64/v8 match
// each other but linux/arm/v7 never matches linux/arm/v6. What --platform
// and a platform ENTRY select from a list.
func ExactPlatform(want imgspecv1.Platform) PlatformMatcher {
	return PlatformMatcher{vector: []imgspecv1.Platform{NormalizePlatform(want)}}
}

// OnlyPlatform matches want and the older platforms that run on it
// (containerd's platforms.Only), preferring want itself: what a runtime on
// want would pull from a list.
func OnlyPlatform(want imgspecv1.Platform) PlatformMatcher {
	n := NormalizePlatform(want)
	vector := platformVector(n)
	for i := range vector {
		vector[i] = NormalizePlatform(vector[i])
	}
	return PlatformMatcher{vector: vector}
}

// platformVector lists want and what runs on it, most preferred first.
func platformVector(want imgspecv1.Platform) []imgspecv1.Platform {
	vector := []imgspecv1.Platform{want}
	with := func(arch, variant string) imgspecv1.Platform {
		p := want
		p.Architecture, p.Variant = arch, variant
		return p
	}
	switch want.Architecture {
	case "amd64":
		if n, err := strconv.Atoi(strings.TrimPrefix(want.Variant, "v")); err == nil {
			for n--; n >= 1; n-- {
				vector = append(vector, with("amd64", "v"+strconv.Itoa(n)))
			}
		}
		vector = append(vector, with("386", ""))
	case "arm":
		if n, err := strconv.Atoi(strings.TrimPrefix(want.Variant, "v")); err == nil {
			for n--; n >= 5; n-- {
				vector = append(vector, with("arm", "v"+strconv.Itoa(n)))
			}
		}
	case "arm64":
		variant := want.Variant
		if variant == "" {
			variant = "v8"
		}
		majorText, minorText, _ := strings.Cut(strings.TrimPrefix(variant, "v"), ".")
		major, errMajor := strconv.Atoi(majorText)
		minor, errMinor := strconv.Atoi(minorText)
		if minorText == "" {
			minor, errMinor = 0, nil
		}
		if errMajor == nil && errMinor == nil && (major == 8 || major == 9) {
			down := func(major, from int) {
				for m := from; m >= 0; m-- {
					v := "v" + strconv.Itoa(major)
					if m > 0 {
						v += "." + strconv.Itoa(m)
					}
					vector = append(vector, with("arm64", v))
				}
			}
			if major == 9 {
				down(9, minor-1)
				down(8, minor+5)
			} else {
				down(8, minor-1)
			}
		}
		// Every arm64 runs 32-bit arm up to v8.
		vector = append(vector, platformVector(with("arm", "v8"))...)
	}
	return vector
}

// Match reports whether p satisfies the matcher; nil never does.
func (m PlatformMatcher) Match(p *imgspecv1.Platform) bool {
	return m.Rank(p) >= 0
}

// Rank is how much the matcher wants p: 0 for the wanted platform itself,
// higher for less preferred compatible ones, -1 when p does not match.
func (m PlatformMatcher) Rank(p *imgspecv1.Platform) int {
	if p == nil {
		return -1
	}
	n := NormalizePlatform(*p)
	for i, w := range m.vector {
		if selects(w, n) {
			return i
		}
	}
	return -1
}

// Best returns the index of the entry of ds the matcher prefers, attestations
// aside, or -1 when none matches. Among equally preferred entries the first
// wins, as a runtime takes the first match in list order.
func (m PlatformMatcher) Best(ds []imgspecv1.Descriptor) int {
	best, bestRank := -1, -1
	for i, d := range ds {
		if IsAttestation(d) {
			continue
		}
		if r := m.Rank(d.Platform); r >= 0 && (best < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	return best
}

// String renders the wanted platform.
func (m PlatformMatcher) String() string {
	if len(m.vector) == 0 {
		return ""
	}
	return FormatPlatform(&m.vector[0])
}

// selects is the rule PlatformMatcher documents, for normalised platforms.
func selects(want, p imgspecv1.Platform) bool {
	return p.OS == want.OS && p.Architecture == want.Architecture && p.Variant == want.Variant &&
		osVersionSelects(want.OSVersion, p.OSVersion) && isSubset(want.OSFeatures, p.OSFeatures)
}

// osVersionSelects: want is empty, equal to have, or a prefix of have
// ending at one of have's dots.
func osVersionSelects(want, have string) bool {
	return want == "" || have == want || strings.HasPrefix(have, want+".")
}

// windowsBuild is "major.minor.build" of a Windows os.version, "" when v
// has no such prefix of numbers.
func windowsBuild(v string) string {
	parts := strings.SplitN(v, ".", 4)
	if len(parts) < 3 {
		return ""
	}
	for _, part := range parts[:3] {
		if _, err := strconv.ParseUint(part, 10, 16); err != nil {
			return ""
		}
	}
	return strings.Join(parts[:3], ".")
}

// isSubset reports whether every item of sub is in set.
func isSubset(sub, set []string) bool {
	for _, s := range sub {
		if !slices.Contains(set, s) {
			return false
		}
	}
	return true
}
