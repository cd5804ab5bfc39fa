package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	helpers "github.com/docker/docker-credential-helpers/credentials"
)

// helperTimeoutEnv overrides how long a credential helper may take to
// answer (helperTimeout).
const helperTimeoutEnv = "DOCKER_MLIST_CREDENTIAL_HELPER_TIMEOUT"

const helperTimeout = 30 * time.Second

// lookupCredentials returns how to find host's credentials in the Docker
// CLI's config (auths, credsStore, credHelpers, DOCKER_AUTH_CONFIG), for the
// registry client to call on the registry's first challenge; nil when the
// config has nothing for host, so that an anonymous registry costs no
// lookup at all.
//
// Helpers are run here rather than through the Docker CLI's store, which
// waits for them without limit and quotes what a failing one printed (some
// print the secret when they fail): a helper is stopped after the timeout,
// and a failure is reported by the helper's name and exit status only.
func lookupCredentials(cfg *configfile.ConfigFile, warn io.Writer, host string) func() (registry.Credentials, error) {
	key := authConfigKey(host)
	helper := cfg.CredentialHelpers[key]
	if helper == "" {
		helper = cfg.CredentialsStore
	}
	// The file store matches keys by host name ("https://r.example/v1/"
	// is r.example), and so does this.
	inFile := false
	for k := range cfg.AuthConfigs {
		inFile = inFile || credentials.ConvertToHostname(k) == credentials.ConvertToHostname(key)
	}
	if helper == "" && !inFile && os.Getenv(configfile.DockerEnvConfigKey) == "" {
		return nil
	}
	return func() (registry.Credentials, error) {
		// DOCKER_AUTH_CONFIG first, as the Docker CLI reads it, then the
		// helper, or else the file: the config stripped of its helpers (and,
		// with a helper, of its auths) reads exactly those.
		plain := *cfg
		plain.CredentialsStore, plain.CredentialHelpers = "", nil
		if helper != "" {
			plain.AuthConfigs = nil
		}
		ac, err := plain.GetAuthConfig(host)
		if err != nil {
			fmt.Fprintf(warn, "WARNING: credentials for %s unavailable (%v); continuing without them\n", host, err)
		}
		found := ac.Username != "" || ac.IdentityToken != "" || ac.RegistryToken != ""
		if helper == "" || found {
			from := fmt.Sprintf("the auths entry for %s in %s", key, configName(cfg))
			if os.Getenv(configfile.DockerEnvConfigKey) != "" {
				from = fmt.Sprintf("the auths entry for %s in %s or %s", key, configfile.DockerEnvConfigKey, configName(cfg))
			}
			return registry.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken, From: from}, nil
		}
		creds, err := runHelper(helper, key)
		creds.From = fmt.Sprintf("the credsStore %s in %s (docker-credential-%s)", helper, configName(cfg), helper)
		if cfg.CredentialHelpers[key] != "" {
			creds.From = fmt.Sprintf("the credHelpers entry for %s in %s (docker-credential-%s)", key, configName(cfg), helper)
		}
		var failed *helperFailure
		if errors.As(err, &failed) {
			// As docker does: a broken or missing credential helper is not
			// fatal, the registry may allow anonymous access.
			fmt.Fprintf(warn, "WARNING: credentials for %s unavailable (%v); continuing without them\n", host, failed)
			return registry.Credentials{}, nil
		}
		return creds, err
	}
}

// configName names the Docker config file credentials came from.
func configName(cfg *configfile.ConfigFile) string {
	if cfg.Filename != "" {
		return cfg.Filename
	}
	return "config.json"
}

// authConfigKey is the key the Docker CLI files host's credentials under.
func authConfigKey(host string) string {
	if host == "docker.io" || host == "index.docker.io" {
		return "https://index.docker.io/v1/"
	}
	return host
}

// helperFailure is a credential helper that failed: a warning, since the
// registry may allow anonymous access. It holds nothing the helper printed.
type helperFailure struct {
	program string
	why     string
}

func (e *helperFailure) Error() string {
	return fmt.Sprintf("credential helper %s %s", e.program, e.why)
}

// runHelper asks docker-credential-<helper> for serverURL's credentials, as
// the docker-credential-helpers protocol has it: `get`, the server URL on
// stdin, JSON on stdout. The helper's output is read, never shown.
func runHelper(helper, serverURL string) (registry.Credentials, error) {
	timeout := helperTimeout
	if v := os.Getenv(helperTimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return registry.Credentials{}, fmt.Errorf("invalid %s %q: want a positive duration such as 30s or 2m", helperTimeoutEnv, v)
		}
		timeout = d
	}
	program := "docker-credential-" + helper
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, "get")
	cmd.Stdin = strings.NewReader(serverURL)
	var out bytes.Buffer
	cmd.Stdout = &out
	// A helper's children may hold its output open after it is killed.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return registry.Credentials{}, fmt.Errorf("credential helper %s did not answer within %s and was stopped (%s sets the wait)", program, timeout, helperTimeoutEnv)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && helpers.IsErrCredentialsNotFoundMessage(out.String()):
		return registry.Credentials{}, nil
	case errors.As(err, &exit):
		return registry.Credentials{}, &helperFailure{program: program, why: "failed (" + exit.ProcessState.String() + ")"}
	case errors.Is(err, exec.ErrNotFound):
		return registry.Credentials{}, &helperFailure{program: program, why: "is not installed (not found in PATH)"}
	case err != nil:
		return registry.Credentials{}, &helperFailure{program: program, why: "could not run"}
	}
	var answer helpers.Credentials
	if err := json.Unmarshal(out.Bytes(), &answer); err != nil {
		return registry.Credentials{}, &helperFailure{program: program, why: "answered something other than credentials"}
	}
	if answer.Username == "<token>" {
		return registry.Credentials{IdentityToken: answer.Secret}, nil
	}
	return registry.Credentials{Username: answer.Username, Password: answer.Secret}, nil
}
