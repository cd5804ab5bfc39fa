package plugin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/types"
)

// registryFlags are the per-command registry options every network command takes.
type registryFlags struct {
	insecure bool
	// creds, when set (--src-creds / --dest-creds), replace the Docker
	// config's credentials for every host of the session.
	creds *registry.Credentials
}

// newSession builds the registry session of one command: credentials from the
// Docker CLI's config (auths, credsStore, credHelpers), insecure decisions and
// certificates per host.
func newSession(dockerCLI command.Cli, flags registryFlags) *registry.Session {
	return registry.NewSession(func(host string) (registry.Options, error) {
		return registryOptions(dockerCLI, host, flags)
	})
}

func registryOptions(dockerCLI command.Cli, host string, flags registryFlags) (registry.Options, error) {
	opts := registry.Options{
		Insecure:  flags.insecure || isInsecure(dockerCLI, host),
		UserAgent: "docker-mlist/" + Version,
	}
	if flags.creds != nil {
		opts.Credentials = *flags.creds
	} else {
		opts.LookupCredentials = lookupCredentials(dockerCLI.ConfigFile(), dockerCLI.Err(), host)
	}
	// Each host a request goes to (the registry, its token realm, a
	// redirect) gets its own certs.d entry, never the registry's.
	opts.TLS = certsFor
	if logrus.IsLevelEnabled(logrus.DebugLevel) {
		opts.Log = func(format string, args ...any) { logrus.Debugf(format, args...) }
	}
	return opts, nil
}

// isInsecure decides, as the Docker engine does for pushes, whether a host
// may be reached over plain HTTP or unverified TLS: loopback always, hosts
// listed in config.json's plugins.mlist "insecure-registries" (for users
// without an engine), and what the current context's engine says.
func isInsecure(dockerCLI command.Cli, host string) bool {
	if isLoopback(host) {
		return true
	}
	if v, ok := dockerCLI.ConfigFile().PluginConfig("mlist", "insecure-registries"); ok {
		for _, h := range strings.Split(v, ",") {
			if strings.TrimSpace(h) == host {
				return true
			}
		}
	}
	return engineInsecure(engine.get(dockerCLI), host)
}

func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// certDirs are where Docker keeps a registry's CA and client certificates
// on this machine (certDirsFor with the process's environment).
func certDirs(host string) []string {
	home, _ := os.UserHomeDir()
	return certDirsFor(runtime.GOOS, host, config.Dir(), home, os.Getenv)
}

// certDirsFor follows each platform's Docker conventions: on Linux and other
// Unix systems /etc/docker/certs.d (the engine and `docker manifest`) and the
// rootless engine's $XDG_CONFIG_HOME/docker/certs.d (~/.config when unset;
// docker/cli internal/registry.CertsDir); on Windows the engine's
// %ProgramData%\docker\certs.d, with the ':' of host:port dropped because
// Windows file names cannot hold one (moby registry.cleanPath); on macOS the
// engine runs inside Docker Desktop's VM, so only Desktop's directory
// applies. Docker Desktop's ~/.docker/certs.d counts everywhere, and so does
// the certs.d of the Docker config directory in use (DOCKER_CONFIG, --config).
func certDirsFor(goos, host, configDir, home string, getenv func(string) string) []string {
	join := filepath.Join
	if goos == "windows" && runtime.GOOS != "windows" {
		// Only tests get here: filepath is the host's, so Windows paths are
		// built with '\' explicitly.
		join = func(elem ...string) string { return strings.Join(elem, `\`) }
	}
	if goos == "windows" {
		host = strings.ReplaceAll(host, ":", "")
	}
	var dirs []string
	add := func(dir string) {
		if dir != "" && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	switch goos {
	case "windows":
		if pd := getenv("ProgramData"); pd != "" {
			add(join(pd, "docker", "certs.d", host))
		}
	case "darwin":
	default:
		add(join("/etc/docker/certs.d", host))
		cfgHome := getenv("XDG_CONFIG_HOME")
		if cfgHome == "" && home != "" {
			cfgHome = join(home, ".config")
		}
		if cfgHome != "" {
			add(join(cfgHome, "docker", "certs.d", host))
		}
	}
	if home != "" {
		add(join(home, ".docker", "certs.d", host))
	}
	if configDir != "" {
		add(join(configDir, "certs.d", host))
	}
	return dirs
}

// certsFor loads CA certificates (*.crt) and client key pairs (*.cert with
// *.key) for host; nil when there are none.
func certsFor(host string) (*tls.Config, error) {
	var cfg *tls.Config
	for _, dir := range certDirs(host) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			switch filepath.Ext(e.Name()) {
			case ".crt":
				pem, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("certificates for %s: %w", host, err)
				}
				if cfg == nil {
					cfg = newTLSConfig()
				}
				if !cfg.RootCAs.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("certificates for %s: no certificate in %s", host, path)
				}
			case ".cert":
				keyPath := strings.TrimSuffix(path, ".cert") + ".key"
				pair, err := tls.LoadX509KeyPair(path, keyPath)
				if err != nil {
					return nil, fmt.Errorf("client certificate for %s: %w", host, err)
				}
				if cfg == nil {
					cfg = newTLSConfig()
				}
				cfg.Certificates = append(cfg.Certificates, pair)
			}
		}
	}
	return cfg, nil
}

func newTLSConfig() *tls.Config {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
}

// systemContext is the containers/image view of this machine for the
// copies that go through containers/image: local transports only, so no
// registry is reached through it and it carries no credentials. It points
// every host configuration file of podman's at nothing, so a host's
// registries.conf, auth.json or policy never changes what docker-mlist does.
func systemContext() *types.SystemContext {
	mine := filepath.Join(config.Dir(), "mlist")
	return &types.SystemContext{
		SystemRegistriesConfPath:          os.DevNull,
		SystemRegistriesConfDirPath:       filepath.Join(mine, "registries.conf.d"),
		RegistriesDirPath:                 filepath.Join(mine, "registries.d"),
		BigFilesTemporaryDir:              os.TempDir(),
		DockerDisableDestSchema1MIMETypes: true,
		DockerRegistryUserAgent:           "docker-mlist/" + Version,
		DockerAuthConfig:                  &types.DockerAuthConfig{},
	}
}

// readers are how a command that only reads reaches what it reads: the
// registries through one session, local layouts through systemContext.
func readers(dockerCLI command.Cli, flags registryFlags) copy.Readers {
	return copy.Readers{Session: newSession(dockerCLI, flags), SystemContext: systemContext()}
}
