package manifestlist

import (
	"fmt"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ConfigContradiction compares the platform a list entry claims with the
// one its image config declares, as go-containerregistry's validate (crane
// validate) does, and says how they differ; "" when they agree or config
// declares nothing. os and architecture always count; the variant only
// where the config has one (many builders leave it out), after the usual
// normalisation (arm64 is v8, arm is v7 unless said otherwise); os.version
// whenever the two differ, since Windows runtimes choose by it.
func ConfigContradiction(claimed, config *imgspecv1.Platform) string {
	if config == nil || config.OS == "" && config.Architecture == "" {
		return ""
	}
	entry := imgspecv1.Platform{}
	if claimed != nil {
		entry = *claimed
	}
	want := imgspecv1.Platform{OS: config.OS, Architecture: config.Architecture, Variant: config.Variant}
	got := imgspecv1.Platform{OS: entry.OS, Architecture: entry.Architecture, Variant: entry.Variant}
	if config.Variant == "" {
		got.Variant = ""
	}
	same := PlatformKey(&got, MatchPlatform) == PlatformKey(&want, MatchPlatform) ||
		config.Variant == "" && strings.EqualFold(want.Architecture, "arm") && strings.EqualFold(got.Architecture, "arm")
	if same && entry.OSVersion == config.OSVersion {
		return ""
	}
	return fmt.Sprintf("the list says %s, the image config says %s", describeClaim(claimed), describeClaim(config))
}

// describeClaim is a platform with its os.version, or "no platform".
func describeClaim(p *imgspecv1.Platform) string {
	if s := FormatPlatform(p); s != "" {
		return s
	}
	return "no platform"
}
