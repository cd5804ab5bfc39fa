package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The Docker CLI execs the plugin twice per `docker mlist ...` (metadata,
// then the command), and once for every `docker --help` and `docker info`.
// BenchmarkStartup compares docker-mlist with a plugin that does nothing,
// built with the same docker/cli: what docker-mlist's own package init and
// binary size add. Target: a ratio of 1.5 or less.

// buildEmptyPlugin builds e2e/internal/emptyplugin into a temporary directory.
func buildEmptyPlugin(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "docker-mlistempty")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", buildTags, "-o", path, "./e2e/internal/emptyplugin")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the empty plugin: %v\n%s", err, out)
	}
	return path
}

func BenchmarkStartup(b *testing.B) {
	empty := buildEmptyPlugin(b)
	e := newEnv(b)
	if err := os.Symlink(empty, filepath.Join(e.ConfigDir, "cli-plugins", "docker-mlistempty")); err != nil {
		b.Fatal(err)
	}
	// timeRun runs name args once and returns how long it took.
	timeRun := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = e.environ()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return time.Since(start)
	}
	cases := []struct {
		name        string
		mlist, base []string
	}{
		{"metadata", []string{pluginBinary, "docker-cli-plugin-metadata"}, []string{empty, "docker-cli-plugin-metadata"}},
		{"help", []string{"docker", "mlist", "--help"}, []string{"docker", "mlistempty", "--help"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// Warm the page cache, then alternate so drift hits both alike.
			timeRun(c.mlist[0], c.mlist[1:]...)
			timeRun(c.base[0], c.base[1:]...)
			var mlist, base time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				mlist += timeRun(c.mlist[0], c.mlist[1:]...)
				base += timeRun(c.base[0], c.base[1:]...)
			}
			b.ReportMetric(float64(mlist.Nanoseconds())/float64(b.N), "mlist-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "empty-ns/op")
			b.ReportMetric(float64(mlist)/float64(base), "ratio")
		})
	}
}
