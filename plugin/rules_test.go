package plugin

import (
	"maps"
	"net/netip"
	"testing"

	registrytypes "github.com/moby/moby/api/types/registry"
)

func TestEngineInsecure(t *testing.T) {
	cfg := &registrytypes.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.20.0.0/16")},
		IndexConfigs: map[string]*registrytypes.IndexInfo{
			"docker.io":          {Name: "docker.io", Secure: true},
			"myreg.local:5000":   {Name: "myreg.local:5000", Secure: false},
			"secure.local:5000":  {Name: "secure.local:5000", Secure: true},
			"10.20.1.1:5000":     {Name: "10.20.1.1:5000", Secure: true},
			"explicitly.invalid": nil,
		},
	}
	tests := map[string]struct {
		cfg  *registrytypes.ServiceConfig
		host string
		want bool
	}{
		"index marked insecure":     {cfg, "myreg.local:5000", true},
		"index marked secure":       {cfg, "secure.local:5000", false},
		"index wins over the CIDR":  {cfg, "10.20.1.1:5000", false},
		"inside an insecure CIDR":   {cfg, "10.20.3.4:5000", true},
		"outside every CIDR":        {cfg, "192.0.2.1:5000", false},
		"loopback through the CIDR": {cfg, "127.0.0.2:5000", true},
		"docker hub":                {cfg, "docker.io", false},
		"no engine":                 {nil, "myreg.local:5000", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := engineInsecure(tc.cfg, tc.host); got != tc.want {
				t.Errorf("engineInsecure(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"localhost:5000":   true,
		"localhost":        true,
		"127.0.0.1:5000":   true,
		"127.3.2.1":        true,
		"[::1]:5000":       true,
		"registry.example": false,
		"10.0.0.1:5000":    false,
		"localhost.evil":   false,
	}
	for host, want := range tests {
		t.Run(host, func(t *testing.T) {
			if got := isLoopback(host); got != want {
				t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
			}
		})
	}
}

func TestAnnotations(t *testing.T) {
	tests := map[string]struct {
		existing map[string]string
		pairs    []string
		want     map[string]string
		wantErr  bool
	}{
		"add":                {nil, []string{"a=1", "b=x=y"}, map[string]string{"a": "1", "b": "x=y"}, false},
		"replace and delete": {map[string]string{"a": "1", "b": "2"}, []string{"a=3", "b="}, map[string]string{"a": "3"}, false},
		"delete the last":    {map[string]string{"a": "1"}, []string{"a="}, nil, false},
		"nothing to set":     {map[string]string{"a": "1"}, nil, map[string]string{"a": "1"}, false},
		"no equals":          {nil, []string{"a"}, nil, true},
		"empty key":          {nil, []string{"=v"}, nil, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			set, err := parseAnnotations(tc.pairs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseAnnotations(%q) error = %v, want error %v", tc.pairs, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			before := maps.Clone(tc.existing)
			got := applyAnnotations(tc.existing, set)
			if !maps.Equal(got, tc.want) {
				t.Errorf("applyAnnotations = %v, want %v", got, tc.want)
			}
			if !maps.Equal(tc.existing, before) {
				t.Errorf("applyAnnotations changed its input: %v", tc.existing)
			}
		})
	}
}
