package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// buildTags are the tags the plugin needs (TECHNOTES §1).
const buildTags = "containers_image_openpgp"

var (
	// pluginBinary is the docker-mlist built once by TestMain.
	pluginBinary string
	// repoRoot is the module root.
	repoRoot string
)

// inCI reports whether a test that the machine cannot run (no engine
// answers, no root) must fail rather than skip: CI must prove everything
// README promises.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	// Missing tools fail the run, never skip it: a green `make check` whose
	// set-up failed would claim e2e passed. `make test` runs unit tests alone.
	if missing := missingTools("docker", harness.RegistryBinary); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: e2e: %s not found in PATH (Debian: apt-get install docker-registry docker.io; or run `make setup`; `make test` runs the unit tests alone)\n", strings.Join(missing, ", "))
		return 1
	}

	var err error
	if repoRoot, err = findRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: e2e:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "docker-mlist-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if pluginBinary = os.Getenv("E2E_PLUGIN_BINARY"); pluginBinary == "" {
		pluginBinary = filepath.Join(tmp, "docker-mlist")
		if err := buildPlugin(pluginBinary); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: e2e: building docker-mlist:", err)
			return 1
		}
	} else if pluginBinary, err = filepath.Abs(pluginBinary); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: e2e:", err)
		return 1
	}

	defer harness.RemoveBuilt() // after the registries it serves are closed
	defer closeSharedRegistries()
	registerLogin(testUser, testPassword)
	code := m.Run()
	// Last, over everything every test printed: no credential leaked.
	if err := checkNoSecrets(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: e2e:", err)
		return 1
	} else if testing.Verbose() {
		fmt.Fprintln(os.Stderr, "e2e: no credentials leaked:", secretsChecked())
	}
	return code
}

func missingTools(names ...string) []string {
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// requireTools fails the test when a tool is missing: `make setup`
// installs every one, so a missing tool is a set-up that failed.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	if missing := missingTools(names...); len(missing) > 0 {
		t.Fatalf("%s not found in PATH (run `make setup`)", strings.Join(missing, ", "))
	}
}

// skipUnlessCI skips a test the machine cannot run (no engine answers, no
// root), and fails it in CI, where every behaviour README promises must be
// shown.
func skipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI must run this test: "+format, args...)
	}
	t.Skipf(format, args...)
}

func findRepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the docker-mlist module")
	}
	return filepath.Dir(gomod), nil
}

func buildPlugin(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", buildTags,
		"-ldflags", "-X main.version=0.0.0-e2e", "-o", out, "./cmd/docker-mlist")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, stderr.String())
	}
	return nil
}

// Test credentials of the shared htpasswd registry.
const (
	testUser     = "alice"
	testPassword = "alice-e2e-secret"
)

var shared struct {
	mu   sync.Mutex
	regs map[string]*harness.Registry
}

func sharedRegistry(t testing.TB, kind string, opts harness.RegistryOptions) *harness.Registry {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if r := shared.regs[kind]; r != nil {
		return r
	}
	r, err := harness.Start(opts)
	if err != nil {
		t.Fatalf("starting the shared %s registry: %v", kind, err)
	}
	if shared.regs == nil {
		shared.regs = map[string]*harness.Registry{}
	}
	shared.regs[kind] = r
	return r
}

func closeSharedRegistries() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, r := range shared.regs {
		_ = r.Close()
	}
	shared.regs = nil
}

// plainRegistry is a registry shared by the whole run: plain HTTP, no auth,
// deletes enabled. Use a repository of your own (testRepo).
func plainRegistry(t testing.TB) *harness.Registry {
	return sharedRegistry(t, "plain", harness.RegistryOptions{DeleteEnabled: true})
}

// tlsRegistry is a shared HTTPS registry whose CA is installed in
// /etc/docker/certs.d/<host>/ca.crt.
func tlsRegistry(t testing.TB) *harness.Registry {
	return sharedRegistry(t, "tls", harness.RegistryOptions{TLS: true, DeleteEnabled: true})
}

// authRegistry is a shared plain-HTTP registry with htpasswd auth for
// testUser/testPassword; reg.Client() is logged in as testUser.
func authRegistry(t testing.TB) *harness.Registry {
	return sharedRegistry(t, "auth", harness.RegistryOptions{Htpasswd: map[string]string{testUser: testPassword}, DeleteEnabled: true})
}

// startRegistry starts a registry of the test's own, stopped at cleanup.
func startRegistry(t testing.TB, opts harness.RegistryOptions) *harness.Registry {
	t.Helper()
	return harness.StartRegistry(t, opts)
}

var repoNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// testRepo returns a repository name unique to the test, e.g. testRepo(t,
// "app") in TestCreate/oci gives "testcreate-oci/app".
func testRepo(t testing.TB, name string) string {
	base := strings.Trim(repoNameRE.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if name == "" {
		return base
	}
	return base + "/" + name
}

var engine struct {
	once      sync.Once
	available bool
	why       string
	host      string // DOCKER_HOST for the temp configs, when the host's context is not "default"
}

// engineAvailable reports whether a Docker engine answers `docker info`
// within a few seconds, with the host's own configuration and context.
func engineAvailable(t testing.TB) bool {
	probeEngine()
	if !engine.available {
		t.Logf("no Docker engine: %s", engine.why)
	}
	return engine.available
}

func probeEngine() {
	engine.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			engine.why = strings.TrimSpace(string(out))
			if err != nil {
				engine.why += " (" + err.Error() + ")"
			}
			return
		}
		engine.available = true
		// newEnv uses a fresh DOCKER_CONFIG, which always means the
		// "default" context; follow the host's context if it is another.
		if os.Getenv("DOCKER_HOST") == "" {
			name, _ := exec.CommandContext(ctx, "docker", "context", "show").Output()
			if n := strings.TrimSpace(string(name)); n != "" && n != "default" {
				h, _ := exec.CommandContext(ctx, "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", n).Output()
				engine.host = strings.TrimSpace(string(h))
			}
		}
	})
}

// requireEngine skips the test unless a Docker engine answers (fails it in
// CI).
func requireEngine(t testing.TB) {
	t.Helper()
	if !engineAvailable(t) {
		skipUnlessCI(t, "no Docker engine answers `docker info`: %s", engine.why)
	}
}
