package manifestlist

import (
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestExpandTemplate(t *testing.T) {
	tests := map[string]struct {
		tmpl     string
		platform imgspecv1.Platform
		want     string
	}{
		"with variant":         {"reg/app:OS-ARCH-VARIANT", imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "reg/app:linux-arm-v7"},
		"variant dropped":      {"reg/app:OS-ARCH-VARIANT", imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, "reg/app:linux-amd64"},
		"underscore separator": {"reg/app:ARCH_VARIANT", imgspecv1.Platform{OS: "linux", Architecture: "arm64"}, "reg/app:arm64"},
		"in repository":        {"reg/app-ARCH:1.0", imgspecv1.Platform{OS: "linux", Architecture: "s390x"}, "reg/app-s390x:1.0"},
		"no placeholder":       {"reg/app:1.0", imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, "reg/app:1.0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ExpandTemplate(tc.tmpl, tc.platform); got != tc.want {
				t.Errorf("ExpandTemplate(%q) = %q, want %q", tc.tmpl, got, tc.want)
			}
		})
	}
}
