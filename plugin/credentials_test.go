package plugin

import (
	"io"
	"os"
	"path/filepath"
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

// TestCredentialsFrom: credentials found in the Docker config say which
// entry supplied them, for the error when a registry rejects them.
func TestCredentialsFrom(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\ncat >/dev/null\necho '{\"Username\":\"u\",\"Secret\":\"p\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_AUTH_CONFIG", "")
	file := filepath.Join(t.TempDir(), "config.json")
	tests := []struct {
		name string
		cfg  configfile.ConfigFile
		want string
	}{
		{"auths", configfile.ConfigFile{Filename: file, AuthConfigs: map[string]types.AuthConfig{"r.example": {Username: "u", Password: "p"}}}, "the auths entry for r.example in " + file},
		{"credsStore", configfile.ConfigFile{Filename: file, CredentialsStore: "fake"}, "the credsStore fake in " + file + " (docker-credential-fake)"},
		{"credHelpers", configfile.ConfigFile{Filename: file, CredentialsStore: "other", CredentialHelpers: map[string]string{"r.example": "fake"}}, "the credHelpers entry for r.example in " + file + " (docker-credential-fake)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := lookupCredentials(&tc.cfg, io.Discard, "r.example")()
			if err != nil {
				t.Fatal(err)
			}
			if creds.Username != "u" || creds.From != tc.want {
				t.Errorf("credentials of %s from %q, want %q", creds.Username, creds.From, tc.want)
			}
		})
	}
}
