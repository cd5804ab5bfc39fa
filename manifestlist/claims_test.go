package manifestlist

import (
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestConfigContradiction(t *testing.T) {
	p := func(s string) *imgspecv1.Platform {
		if s == "" {
			return nil
		}
		pl, err := ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		return &pl
	}
	for name, tc := range map[string]struct {
		claimed, config string
		want            string // "" for agreement, else a part of the message
	}{
		"same":                     {claimed: "linux/amd64", config: "linux/amd64"},
		"arch differs":             {claimed: "linux/arm64", config: "linux/amd64", want: "the list says linux/arm64, the image config says linux/amd64"},
		"os differs":               {claimed: "windows/amd64", config: "linux/amd64", want: "image config says linux/amd64"},
		"variant the config lacks": {claimed: "linux/arm64/v8", config: "linux/arm64"},
		"arm without variant":      {claimed: "linux/arm/v6", config: "linux/arm"},
		"variant differs":          {claimed: "linux/arm/v6", config: "linux/arm/v7", want: "image config says linux/arm/v7"},
		"arm64 normalised":         {claimed: "linux/arm64", config: "linux/arm64/v8"},
		"os.version same":          {claimed: "windows/amd64:10.0.17763.1", config: "windows/amd64:10.0.17763.1"},
		"os.version differs":       {claimed: "windows/amd64:10.0.17763.1", config: "windows/amd64:10.0.20348.2", want: "the list says windows/amd64:10.0.17763.1, the image config says windows/amd64:10.0.20348.2"},
		"os.version missing":       {claimed: "windows/amd64", config: "windows/amd64:10.0.20348.2", want: "the list says windows/amd64,"},
		"os.version extra":         {claimed: "linux/amd64:5.1", config: "linux/amd64", want: "the list says linux/amd64:5.1"},
		"no claim":                 {claimed: "", config: "linux/amd64", want: "the list says no platform"},
		"config says nothing":      {claimed: "linux/amd64", config: ""},
	} {
		t.Run(name, func(t *testing.T) {
			got := ConfigContradiction(p(tc.claimed), p(tc.config))
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("ConfigContradiction(%s, %s) = %q, want %q", tc.claimed, tc.config, got, tc.want)
			}
		})
	}
}
