package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Registry implementations StartRegistry can run (RegistryOptions.Impl).
const (
	// ImplDockerRegistry is Debian's docker-registry 2.8 (RegistryBinary),
	// the default.
	ImplDockerRegistry = "docker-registry"
	// ImplDistribution is the CNCF distribution v3 registry, served by
	// tools/registry (mlist-registry -impl distribution).
	ImplDistribution = "distribution"
	// ImplGGCR is go-containerregistry's pkg/registry with the OCI referrers
	// API switched on, served by tools/registry (mlist-registry -impl ggcr).
	ImplGGCR = "ggcr"
	// ImplOlareg is olareg (github.com/olareg/olareg), served by
	// tools/registry (mlist-registry -impl olareg).
	ImplOlareg = "olareg"
)

// Impls are all implementations, the default first.
var Impls = []string{ImplDockerRegistry, ImplDistribution, ImplGGCR, ImplOlareg}

// MlistRegistryBinary is the tools/registry program that serves
// ImplDistribution, ImplGGCR and ImplOlareg, and validates content
// (Validate). Empty means: build it on first use into a
// temporary directory (RemoveBuilt deletes it). E2E_MLIST_REGISTRY sets it.
var MlistRegistryBinary = os.Getenv("E2E_MLIST_REGISTRY")

var tool struct {
	once sync.Once
	dir  string
	err  error
}

// mlistRegistry returns MlistRegistryBinary, building it the first time.
func mlistRegistry() (string, error) {
	tool.once.Do(func() {
		if MlistRegistryBinary != "" {
			return
		}
		src, err := toolSource()
		if err != nil {
			tool.err = err
			return
		}
		if tool.dir, err = os.MkdirTemp("", "e2e-mlist-registry-"); err != nil {
			tool.err = err
			return
		}
		out := filepath.Join(tool.dir, "mlist-registry")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-C", src, "-trimpath", "-o", out, ".")
		// Its own module: no workspace, and none of the plugin's build flags.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil {
			tool.err = fmt.Errorf("building %s: %v\n%s", src, err, stderr.String())
			return
		}
		MlistRegistryBinary = out
	})
	return MlistRegistryBinary, tool.err
}

// toolSource finds tools/registry next to this package's source.
func toolSource() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "tools", "registry")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("tools/registry not found next to the harness source (built with -trimpath?): set E2E_MLIST_REGISTRY to a built mlist-registry")
}

// RemoveBuilt deletes the mlist-registry the harness built, if any. Call it
// once all registries are closed (TestMain).
func RemoveBuilt() {
	tool.once.Do(func() {}) // waits for a build in progress
	if tool.dir != "" {
		_ = os.RemoveAll(tool.dir)
		tool.dir = ""
	}
}

// startTool runs mlist-registry for opts.Impl. It binds the port itself
// (-addr 127.0.0.1:0) and announces it on stdout; its request log (-log) is
// in the combined format of distribution's access log, on stderr.
func startTool(opts RegistryOptions) (_ *Registry, retErr error) {
	if opts.TLS || len(opts.Htpasswd) > 0 {
		return nil, fmt.Errorf("registry implementation %q: TLS and htpasswd are only offered by %s", opts.Impl, ImplDockerRegistry)
	}
	bin, err := mlistRegistry()
	if err != nil {
		return nil, err
	}
	r, err := newRegistry(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = r.Close()
		}
	}()
	if r.logFile, err = os.Create(filepath.Join(r.Dir, "registry.log")); err != nil {
		return nil, err
	}
	args := []string{"-impl", opts.Impl, "-addr", "127.0.0.1:0", "-log"}
	if opts.Impl == ImplDistribution {
		storage := filepath.Join(r.Dir, "storage")
		if err := os.MkdirAll(storage, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dir", storage)
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Dir = r.Dir
	stdout, stderr, err := startPiped(r.cmd)
	if err != nil {
		return nil, err
	}
	announced := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			announced <- sc.Text()
		}
		close(announced)
		_, _ = io.Copy(r.logFile, stdout)
	}()
	go func() { defer pipes.Done(); r.readAccessLog(stderr) }()
	go func() {
		pipes.Wait()
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()

	var line string
	select {
	case line = <-announced:
	case <-time.After(15 * time.Second):
	}
	url, ok := strings.CutPrefix(line, "listening on ")
	if !ok {
		<-time.After(100 * time.Millisecond) // let the log reader catch the reason
		return nil, fmt.Errorf("mlist-registry -impl %s announced %q, not \"listening on URL\":\n%s", opts.Impl, line, r.LogTail())
	}
	r.URL = url
	r.Host = strings.TrimPrefix(url, "http://")
	r.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
	r.log.SetEndpoint(r.URL, r.http, r.done)
	if err := r.waitReady(15 * time.Second); err != nil {
		return nil, err
	}
	r.admin = r.newClient("", "")
	return r, nil
}
