package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// make demo's script, against the project's own registry (tools/registry):
// every step succeeds, the merge keeps the platforms the new build lacks, and
// where an engine answers, docker pull --platform gets each platform.
func TestDemo(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot, "tools", "registry", "go.mod")); err != nil {
		skipUnlessCI(t, "tools/registry is not in this tree: %v", err)
	}
	e := newEnv(t)
	e.setenv("BINARY", pluginBinary)
	r := e.run("", filepath.Join(repoRoot, "scripts", "demo.sh"))
	mustSucceed(t, r, "scripts/demo.sh")
	out := r.Combined() // the commands' summaries go to stderr
	for _, re := range []string{
		`(?m)^demo: registry at 127\.0\.0\.1:\d+$`,
		`(?m)^Merged \S+/demo:build-2 into \S+/demo:v1: 1 added, 1 replaced, 2 kept, 0 dropped$`,
		`(?m)^Copied \S+/demo:v1 to \S+/mirror/demo:v1: 5 manifests written`,
		`(?m)^linux/arm/v7 +sha256:`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("demo output lacks %s:\n%s", re, out)
		}
	}
	if !engineAvailable(t) {
		if !strings.Contains(out, "demo: no Docker engine answers here") {
			t.Errorf("without an engine the demo does not say it skips the pulls:\n%s", out)
		}
		return
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm", "linux/riscv64"} {
		if !regexp.MustCompile(`(?m)^pulled ` + regexp.QuoteMeta(p) + `, image sha256:`).MatchString(out) {
			t.Errorf("demo did not pull %s:\n%s", p, out)
		}
	}
}
