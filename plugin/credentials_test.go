package plugin

import (
	"io"
	"testing"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

// TestLookupCredentialsOnlyWhereConfigured: a host the Docker config holds
// nothing for gets no lookup at all, so its registry's first answers cost
// no credential work; any source that might answer gets one.
func TestLookupCredentialsOnlyWhereConfigured(t *testing.T) {
	tests := []struct {
		name string
		cfg  configfile.ConfigFile
		host string
		env  string // DOCKER_AUTH_CONFIG
		want bool
	}{
		{name: "empty config", host: "r.example", want: false},
		{name: "auths for another host", cfg: configfile.ConfigFile{AuthConfigs: map[string]types.AuthConfig{"other.example": {}}}, host: "r.example", want: false},
		{name: "auths for the host", cfg: configfile.ConfigFile{AuthConfigs: map[string]types.AuthConfig{"r.example": {}}}, host: "r.example", want: true},
		{name: "auths under a URL", cfg: configfile.ConfigFile{AuthConfigs: map[string]types.AuthConfig{"https://r.example:5000/v1/": {}}}, host: "r.example:5000", want: true},
		{name: "docker.io under the index URL", cfg: configfile.ConfigFile{AuthConfigs: map[string]types.AuthConfig{"https://index.docker.io/v1/": {}}}, host: "docker.io", want: true},
		{name: "credsStore", cfg: configfile.ConfigFile{CredentialsStore: "pass"}, host: "r.example", want: true},
		{name: "credHelpers for the host", cfg: configfile.ConfigFile{CredentialHelpers: map[string]string{"r.example": "ecr-login"}}, host: "r.example", want: true},
		{name: "credHelpers for another host", cfg: configfile.ConfigFile{CredentialHelpers: map[string]string{"other.example": "ecr-login"}}, host: "r.example", want: false},
		{name: "DOCKER_AUTH_CONFIG", host: "r.example", env: `{"auths":{}}`, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_AUTH_CONFIG", tc.env)
			if got := lookupCredentials(&tc.cfg, io.Discard, tc.host) != nil; got != tc.want {
				t.Errorf("lookup for %s: %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
