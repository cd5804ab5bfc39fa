package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// releaseHost builds what `make release` builds, for this machine only,
// through the release script itself, and returns the directory and the name
// of the binary in it.
func releaseHost(t *testing.T, version string) (string, string) {
	t.Helper()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	suffix := runtime.GOOS + "-" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		platform, suffix = platform+"/v7", suffix+"-v7"
	}
	dir := filepath.Join(t.TempDir(), "dist")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "scripts", "release.sh"), dir)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "PLATFORMS="+platform, "VERSION="+version, "COMMIT=0123456789ab")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}
	return dir, "docker-mlist-" + version + "-" + suffix
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// installEnv is an env whose cli-plugins directory is empty: install.sh is
// what puts the plugin there.
func installEnv(t *testing.T) (*env, string) {
	e := newEnv(t)
	target := filepath.Join(e.ConfigDir, "cli-plugins", "docker-mlist")
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	return e, target
}

func TestInstallFromRelease(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("install.sh is for Linux and macOS; Windows has install.ps1")
	}
	const version = "9.9.9-e2e"
	dist, name := releaseHost(t, version)
	installSh := filepath.Join(repoRoot, "install.sh")

	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256File(t, filepath.Join(dist, name)) + "  " + name + "\n"; string(sums) != want {
		t.Fatalf("SHA256SUMS is\n%q\nwant\n%q", sums, want)
	}

	t.Run("directory, then again", func(t *testing.T) {
		e, target := installEnv(t)
		out := mustSucceed(t, e.run("", installSh, dist), "install.sh "+dist)
		for _, want := range []string{"verified " + name + " against ", "installed docker-mlist " + version + " at " + target + "\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("install.sh printed\n%s\nwant %q", out, want)
			}
		}
		if got, want := sha256File(t, target), sha256File(t, filepath.Join(dist, name)); got != want {
			t.Fatalf("installed binary has sha256 %s, the release %s", got, want)
		}
		if v := e.mustMlist(t, "version"); !strings.HasPrefix(v, "docker-mlist "+version+" (commit 0123456789ab, ") {
			t.Errorf("docker mlist version after install: %q", v)
		}
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		r := e.run("", installSh, dist)
		out = mustSucceed(t, r, "install.sh "+dist+" (again)")
		if want := "docker-mlist " + version + " is already installed at " + target + "; nothing to do\n"; !strings.HasSuffix(out, want) {
			t.Errorf("second install.sh printed\n%s\nwant it to end with %q", out, want)
		}
		if st2, err := os.Stat(target); err != nil || !st2.ModTime().Equal(st.ModTime()) || !os.SameFile(st, st2) {
			t.Errorf("second run rewrote %s (%v)", target, err)
		}
	})

	t.Run("file", func(t *testing.T) {
		e, target := installEnv(t)
		mustSucceed(t, e.run("", installSh, filepath.Join(dist, name)), "install.sh FILE")
		if sha256File(t, target) != sha256File(t, filepath.Join(dist, name)) {
			t.Fatal("installed binary differs from the release file")
		}
	})

	t.Run("corrupted binary is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "dist")
		if err := os.MkdirAll(bad, 0o755); err != nil {
			t.Fatal(err)
		}
		bin, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		bin[len(bin)/2] ^= 0xff
		if err := os.WriteFile(filepath.Join(bad, name), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, "SHA256SUMS"), sums, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{bad, filepath.Join(bad, name)} {
			e, target := installEnv(t)
			r := e.run("", installSh, arg)
			if r.ExitCode == 0 || !strings.Contains(r.Stderr, "install: checksum mismatch for "+filepath.Join(bad, name)) || !strings.Contains(r.Stderr, "not installed") {
				t.Errorf("install.sh %s: exit %d, stderr:\n%s\nwant a refused checksum", arg, r.ExitCode, r.Stderr)
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Errorf("%s exists after a refused install (%v)", target, err)
			}
		}

		// Over a good installation, a corrupted one changes nothing.
		e, target := installEnv(t)
		mustSucceed(t, e.run("", installSh, dist), "install.sh "+dist)
		before := sha256File(t, target)
		if r := e.run("", installSh, bad); r.ExitCode == 0 {
			t.Errorf("corrupted release installed over a good one:\n%s", r.Combined())
		}
		if sha256File(t, target) != before {
			t.Error("the installed binary changed")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		e, target := installEnv(t)
		noSums := t.TempDir()
		copyFile(t, filepath.Join(dist, name), filepath.Join(noSums, name))
		other := t.TempDir()
		otherName := strings.Replace(name, runtime.GOARCH, "s390x", 1)
		if runtime.GOARCH == "s390x" {
			otherName = strings.Replace(name, runtime.GOARCH, "amd64", 1)
		}
		copyFile(t, filepath.Join(dist, name), filepath.Join(other, otherName))
		copyFile(t, filepath.Join(dist, "SHA256SUMS"), filepath.Join(other, "SHA256SUMS"))
		for arg, want := range map[string]string{
			filepath.Join(noSums, name):     "install: no SHA256SUMS next to " + filepath.Join(noSums, name) + ": cannot verify it; not installed",
			filepath.Join(other, otherName): "install: " + filepath.Join(other, otherName) + " is not a docker-mlist build for this machine",
			other:                           "install: no build for " + strings.TrimPrefix(name, "docker-mlist-"+version+"-") + " in " + other,
			filepath.Join(other, "nosuch"):  "install: " + filepath.Join(other, "nosuch") + ": no such release directory or file",
		} {
			r := e.run("", installSh, arg)
			if r.ExitCode == 0 || !strings.HasPrefix(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("install.sh %s: exit %d, stderr:\n%s\nwant one line starting %q", arg, r.ExitCode, r.Stderr, want)
			}
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("%s exists after refused installs (%v)", target, err)
		}
	})
}

// make install's path: a binary built already, named by BINARY.
func TestInstallBuiltBinary(t *testing.T) {
	e, target := installEnv(t)
	e.setenv("BINARY", pluginBinary)
	installSh := filepath.Join(repoRoot, "install.sh")
	out := mustSucceed(t, e.run("", installSh), "BINARY=... install.sh")
	if want := fmt.Sprintf("installed docker-mlist 0.0.0-e2e at %s\n", target); !strings.Contains(out, want) {
		t.Errorf("install.sh printed\n%s\nwant %q", out, want)
	}
	a, _ := os.ReadFile(target)
	b, _ := os.ReadFile(pluginBinary)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the installed binary is not the one built")
	}
	out = mustSucceed(t, e.run("", installSh), "BINARY=... install.sh (again)")
	if !strings.Contains(out, "nothing to do") {
		t.Errorf("second run printed\n%s", out)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
