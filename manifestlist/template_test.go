package manifestlist

import (
	"strings"
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

func TestCheckTemplate(t *testing.T) {
	tests := map[string]struct {
		tmpl      string
		platforms string
		wantErr   string
	}{
		"all placeholders": {tmpl: "h/app:OS-ARCH-VARIANT", platforms: "linux/amd64,linux/arm/v7,linux/arm/v6"},
		"arch enough":      {tmpl: "h/app:ARCH", platforms: "linux/amd64,linux/arm64"},
		"no placeholder": {tmpl: "h/app:linux-amd64", platforms: "linux/amd64,linux/arm64",
			wantErr: `invalid --template "h/app:linux-amd64": it has no placeholder; use OS, ARCH and VARIANT`},
		"no placeholder, one platform": {tmpl: "h/app:1", platforms: "linux/amd64", wantErr: "it has no placeholder"},
		"variants not told apart": {tmpl: "h/app:OS-ARCH", platforms: "linux/arm/v6,linux/arm/v7",
			wantErr: `invalid --template "h/app:OS-ARCH": it names h/app:linux-arm for both linux/arm/v6 and linux/arm/v7`},
		"os not told apart": {tmpl: "h/app:ARCH", platforms: "linux/amd64,windows/amd64", wantErr: "for both linux/amd64 and windows/amd64"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ps, err := ParsePlatforms(tc.platforms)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckTemplate(tc.tmpl, ps)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}
