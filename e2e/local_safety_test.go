package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// TestLayoutConcurrentWriters: several `docker mlist copy … oci:DIR:TAG`
// into one layout at once keep every tag, and index.json is always a
// whole index.
func TestLayoutConcurrentWriters(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	const writers, trials = 5, 3
	for trial := range trials {
		layout := filepath.Join(t.TempDir(), "layout")
		var wg sync.WaitGroup
		results := make([]result, writers)
		for i := range writers {
			wg.Go(func() {
				results[i] = e.mlist("copy", "-q", reg.Ref(repo+":v1"), fmt.Sprintf("oci:%s:t%d", layout, i))
			})
		}
		// A reader meanwhile: index.json is absent or a whole index.
		done, finished := make(chan struct{}), stop(&wg)
		var reads, partial int
		go func() {
			defer close(done)
			for {
				select {
				case <-time.After(time.Millisecond):
				case <-finished:
					return
				}
				raw, err := os.ReadFile(filepath.Join(layout, "index.json"))
				if err != nil {
					continue
				}
				reads++
				if !json.Valid(raw) {
					partial++
				}
			}
		}()
		wg.Wait()
		<-done
		t.Logf("trial %d: %d reads of index.json during the writes", trial, reads)
		if partial > 0 {
			t.Errorf("trial %d: %d of %d reads of index.json found it partial", trial, partial, reads)
		}
		for i, r := range results {
			if r.ExitCode != 0 {
				t.Errorf("trial %d writer %d: exit %d\n%s", trial, i, r.ExitCode, r.Stderr)
			}
		}
		names := layoutRefNames(t, layout) // fails on invalid JSON
		slices.Sort(names)
		var want []string
		for i := range writers {
			want = append(want, fmt.Sprintf("t%d", i))
		}
		if !slices.Equal(names, want) {
			t.Errorf("trial %d: index.json names %v, want %v", trial, names, want)
		}
		checkLayoutBlobs(t, layout)
		if left := tempFilesIn(t, layout); len(left) > 0 {
			t.Errorf("trial %d: temporary files left in the layout: %v", trial, left)
		}
		if d := mustCopy(t, e, "oci:"+layout+":t0", reg.Ref(repo+":back")); d != list.Digest {
			t.Errorf("trial %d: the layout's t0 is %s, want %s", trial, d, list.Digest)
		}
	}
}

// stop is a channel closed once wg is done.
func stop(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// tempFilesIn lists what a writer leaves behind in dir (recursively): our
// temporary files and containers/image's.
func tempFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp-") || strings.HasPrefix(d.Name(), "oci-put-blob")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// needRoot skips a test that mounts a filesystem unless it runs as root;
// in CI, where it runs as root, not running is a failure.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test mounts a tmpfs and must run as root in CI")
	}
	t.Skip("mounts a tmpfs: run as root")
}

// smallTmpfs mounts a tmpfs of size bytes, unmounted at cleanup.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes to dir until its filesystem is full, and returns the filler.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// What a page's rounding left: byte by byte.
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			return p
		}
	}
}

// TestLayoutFullDisk: a layout on a full filesystem keeps its index.json
// when a copy cannot write a new one; the copy fails with one line, and
// succeeds once there is room.
func TestLayoutFullDisk(t *testing.T) {
	mnt := smallTmpfs(t, "4m")
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	layout := filepath.Join(mnt, "layout")
	mustCopy(t, e, reg.Ref(repo+":v1"), "oci:"+layout+":a")
	// Long tags until the next one would take index.json past one page:
	// an index.json written in place, its old page freed first, would
	// then run out of room half-way.
	indexSize := func() int {
		fi, err := os.Stat(filepath.Join(layout, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Size())
	}
	long := func(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("x", 120) }
	size := indexSize()
	tags := []string{"a"}
	for i := 0; ; i++ {
		e.mustMlist(t, "copy", "-q", reg.Ref(repo+":v1"), "oci:"+layout+":"+long(i))
		tags = append(tags, long(i))
		next := indexSize()
		if entry := next - size; next+entry > 4096 {
			break
		}
		size = next
	}
	before, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	filler := fill(t, mnt)
	// Every blob and manifest is there already: only index.json is written.
	r := e.mlistFails(t, `index\.json.*no space left on device`, "copy", "-q", reg.Ref(repo+":v1"), "oci:"+layout+":"+long(999))
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
		t.Errorf("the failure took %d lines, want one:\n%s", len(lines), r.Stderr)
	}
	after, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil || !bytes.Equal(after, before) {
		t.Errorf("index.json changed on the failed copy (%v):\n%s\nwas:\n%s", err, after, before)
	}
	if left := tempFilesIn(t, layout); len(left) > 0 {
		t.Errorf("temporary files left in the layout: %v", left)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustCopy(t, e, reg.Ref(repo+":v1"), "oci:"+layout+":"+long(999))
	tags = append(tags, long(999))
	names := layoutRefNames(t, layout)
	slices.Sort(names)
	slices.Sort(tags)
	if !slices.Equal(names, tags) {
		t.Errorf("index.json names %v, want %v", names, tags)
	}
	if d := mustCopy(t, e, "oci:"+layout+":a", reg.Ref(repo+":back")); d != list.Digest {
		t.Errorf("tag a is %s, want %s", d, list.Digest)
	}
}

// archiveTargets are the archive destinations of a copy of a list, with
// what each needs to take one.
var archiveTargets = []struct {
	transport string
	args      []string
}{
	{"oci-archive", nil},
	{"docker-archive", []string{"--platform", "linux/amd64"}},
}

// TestArchiveSourceKilled: the source registry dies part-way through a copy
// to an archive. The copy fails, the archive a previous copy wrote is
// untouched, nothing else is left beside it or in TMPDIR, and the copy
// succeeds once the registry is back.
func TestArchiveSourceKilled(t *testing.T) {
	for _, tc := range archiveTargets {
		t.Run(tc.transport, func(t *testing.T) {
			storage := t.TempDir()
			src := startRegistry(t, harness.RegistryOptions{Dir: storage})
			repo := testRepo(t, "src")
			list := pushCopySource(t, src, repo, "v1", harness.ImageOptions{Layers: 3, LayerSize: 1 << 20}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
			old := pushCopySource(t, src, repo, "old", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
			e := newEnv(t)
			tmp := t.TempDir()
			e.setenv("TMPDIR", tmp)
			dir := t.TempDir()
			target := filepath.Join(dir, "app.tar")
			mustCopy(t, e, append(tc.args, src.Ref(repo+":old"), tc.transport+":"+target+":app:v1")...)
			before, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			p, err := proxy.Start(src.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
					once.Do(func() { _ = src.Close() })
				}
				return false
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			r := e.mlist(append(append([]string{"copy"}, tc.args...), p.Host+"/"+repo+":v1", tc.transport+":"+target+":app:v1")...)
			if r.ExitCode == 0 {
				t.Fatalf("the copy succeeded with its source killed")
			}
			after, err := os.ReadFile(target)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("the failed copy changed %s (%v)", target, err)
			}
			if left := entriesOf(t, dir); !slices.Equal(left, []string{"app.tar"}) {
				t.Errorf("beside the archive: %v, want [app.tar]", left)
			}
			if left := entriesOf(t, tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
			again := startRegistry(t, harness.RegistryOptions{Dir: storage})
			mustCopy(t, e, append(tc.args, again.Ref(repo+":v1"), tc.transport+":"+target+":app:v1")...)
			got, want := archiveHolds(t, e, again, repo, tc.transport, target), list.Digest
			if tc.transport == "docker-archive" {
				want = list.Images[0].Config.Digest
			}
			if got != want {
				t.Errorf("the archive holds %s, want %s (the old list was %s)", got, want, old.Digest)
			}
		})
	}
}

// archiveHolds is what an archive holds: for an oci-archive the digest of
// the list a copy back to reg/repo writes; for a docker-archive, whose
// manifest is made up on reading, the digest of its image's config.
func archiveHolds(t *testing.T, e *env, reg *harness.Registry, repo, transport, archive string) string {
	t.Helper()
	if transport == "oci-archive" {
		return mustCopy(t, e, "oci-archive:"+archive, reg.Ref(repo+":back"))
	}
	files := untar(t, archive)
	raw, err := os.ReadFile(filepath.Join(files, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ms []dockerArchiveManifest
	if err := json.Unmarshal(raw, &ms); err != nil || len(ms) != 1 {
		t.Fatalf("docker-archive manifest.json (%v), want one image:\n%s", err, raw)
	}
	cfg, err := os.ReadFile(filepath.Join(files, ms[0].Config))
	if err != nil {
		t.Fatal(err)
	}
	return harness.Digest(cfg)
}

// TestArchiveFullDisk: an archive that does not fit on its filesystem
// leaves the archive a previous copy wrote there untouched and nothing
// beside it, with a one-line error; with room, the copy succeeds.
func TestArchiveFullDisk(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	old := pushCopySource(t, reg, repo, "old", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{Layers: 2, LayerSize: 1 << 20}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	for _, tc := range archiveTargets {
		t.Run(tc.transport, func(t *testing.T) {
			mnt := smallTmpfs(t, "2m")
			target := filepath.Join(mnt, "app.tar")
			mustCopy(t, e, append(tc.args, reg.Ref(repo+":old"), tc.transport+":"+target+":app:v1")...)
			before, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			r := e.mlistFails(t, `no space left on device`, append(append([]string{"copy", "-q"}, tc.args...), reg.Ref(repo+":v1"), tc.transport+":"+target+":app:v1")...)
			if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
				t.Errorf("the failure took %d lines, want one:\n%s", len(lines), r.Stderr)
			}
			after, err := os.ReadFile(target)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("the failed copy changed %s (%v)", target, err)
			}
			if left := entriesOf(t, mnt); !slices.Equal(left, []string{"app.tar"}) {
				t.Errorf("beside the archive: %v, want [app.tar]", left)
			}
			if out, err := exec.Command("mount", "-o", "remount,size=16m", mnt).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v\n%s", err, out)
			}
			mustCopy(t, e, append(tc.args, reg.Ref(repo+":v1"), tc.transport+":"+target+":app:v1")...)
			got, want := archiveHolds(t, e, reg, repo, tc.transport, target), list.Digest
			if tc.transport == "docker-archive" {
				want = list.Images[0].Config.Digest
			}
			if got != want {
				t.Errorf("the archive holds %s, want %s (the old list was %s)", got, want, old.Digest)
			}
		})
	}
}

// entriesOf lists dir's names.
func entriesOf(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

// TestInterruptLocalCopy: SIGINT or SIGTERM part-way through a copy to a
// local transport stops it: exit 130 or 143 with one line saying so, no
// staging directory or temporary file left, the destination as it was.
// The signal goes to the process group, as a terminal or a CI runner sends
// it, or to the docker CLI alone, which then tells the plugin to stop.
func TestInterruptLocalCopy(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	cases := []struct {
		sig     syscall.Signal
		group   bool
		code    int
		message string
	}{
		{syscall.SIGINT, true, 130, "interrupted by SIGINT"},
		{syscall.SIGTERM, true, 143, "interrupted by SIGTERM"},
		{syscall.SIGTERM, false, 143, "interrupted by SIGTERM"},
	}
	targets := []struct {
		transport string
		args      []string
	}{{"oci", nil}}
	targets = append(targets, archiveTargets...)
	for _, tc := range cases {
		for _, tg := range targets {
			name := fmt.Sprintf("%s/%s/group=%v", tg.transport, tc.sig, tc.group)
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				tmp := t.TempDir()
				e.setenv("TMPDIR", tmp)
				p, reached := stallBlobs(t, reg)
				dir := t.TempDir()
				target := filepath.Join(dir, "out")
				args := append(append([]string{"mlist", "copy"}, tg.args...), p.Host+"/"+repo+":v1", tg.transport+":"+target+":app:v1")
				ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
				defer cancel()
				c := exec.CommandContext(ctx, "docker", args...)
				c.Env = e.environ()
				c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				var stdout, stderr bytes.Buffer
				c.Stdout, c.Stderr = &stdout, &stderr
				startUntil(t, c, reached)
				if tc.group {
					_ = syscall.Kill(-c.Process.Pid, tc.sig)
				} else {
					_ = c.Process.Signal(tc.sig)
				}
				err := c.Wait()
				t.Logf("$ docker %s  # %v\n%s", strings.Join(args, " "), err, indent(stderr.String()))
				if code := c.ProcessState.ExitCode(); code != tc.code {
					t.Errorf("exit %d, want %d", code, tc.code)
				}
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], tc.message) {
					t.Errorf("stderr is %q, want one line saying %q", stderr.String(), tc.message)
				}
				if left := entriesOf(t, tmp); len(left) > 0 {
					t.Errorf("left in TMPDIR: %v", left)
				}
				if tg.transport == "oci" {
					if names := layoutRefNames(t, target); len(names) > 0 {
						t.Errorf("the interrupted copy tagged %v", names)
					}
					if left := tempFilesIn(t, target); len(left) > 0 {
						t.Errorf("temporary files left in the layout: %v", left)
					}
				} else if left := entriesOf(t, dir); len(left) > 0 {
					t.Errorf("left beside the archive: %v", left)
				}
			})
		}
	}
}

// startUntil starts c and waits until the copy asks for a blob (reached,
// from stallBlobs).
func startUntil(t *testing.T, c *exec.Cmd, reached <-chan struct{}) {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(time.Minute):
		_ = c.Process.Kill()
		t.Fatal("the copy never asked for a blob")
	}
}

// stallBlobs is a proxy to reg where every blob GET stalls until its
// client gives up; reached is closed at the first.
func stallBlobs(t *testing.T, reg *harness.Registry) (p *proxy.Proxy, reached <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	p, err := proxy.Start(reg.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		once.Do(func() { close(ch) })
		<-r.Context().Done()
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, ch
}

// TestInterruptTerminal: Ctrl-C on a terminal (a pseudo-terminal from
// script(1)), where the Docker CLI leaves SIGINT to the plugin: the
// progress lines are cleared, one line says the copy was interrupted, it
// exits 130 and leaves nothing in TMPDIR.
func TestInterruptTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) for a terminal")
	}
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	pushCopySource(t, reg, repo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	tmp := t.TempDir()
	e.setenv("TMPDIR", tmp)
	p, reached := stallBlobs(t, reg)
	dir := t.TempDir()
	line := "docker mlist copy " + p.Host + "/" + repo + ":v1 oci-archive:" + filepath.Join(dir, "app.tar") + ":v1"
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "script", "-qefc", line, "/dev/null")
	c.Env = e.environ()
	keys, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	startUntil(t, c, reached)
	time.Sleep(500 * time.Millisecond) // a progress drawing or two
	_, _ = keys.Write([]byte{3})       // Ctrl-C
	err = c.Wait()
	_ = keys.Close()
	t.Logf("$ %s  # %v\n%q", line, err, out.String())
	if code := c.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	o := out.String()
	drawn := strings.LastIndex(o, "Copying:")
	cleared := strings.LastIndex(o, "\033[J")
	said := strings.LastIndex(o, "docker mlist copy: interrupted by SIGINT")
	if drawn < 0 || cleared < drawn || said < cleared {
		t.Errorf("want progress drawn, then cleared, then the interrupted line; got %q", o)
	}
	if left := entriesOf(t, tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	if left := entriesOf(t, dir); len(left) > 0 {
		t.Errorf("left beside the archive: %v", left)
	}
}

// TestInterruptRegistryUpload: SIGINT while blobs are being uploaded to a
// registry abandons every upload session the copy opened (DELETE), and
// the copy exits 130 saying it was interrupted.
func TestInterruptRegistryUpload(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{Layers: 2, LayerSize: 1 << 20}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	stalled := make(chan struct{}, 64)
	p, err := proxy.Start(src.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		// Nothing until the client gives up: the upload session opened
		// for the blob meanwhile stays open.
		stalled <- struct{}{}
		<-r.Context().Done()
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	mark := dst.Mark()
	args := []string{"mlist", "copy", p.Host + "/" + srcRepo + ":v1", dst.Ref(dstRepo + ":v1")}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "docker", args...)
	c.Env = e.environ()
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(time.Minute):
		_ = c.Process.Kill()
		t.Fatal("the copy never read a blob")
	}
	// The uploads the stalled reads feed are open by now.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if opened := dst.RequestsSince(mark).Filter(func(r harness.Request) bool {
			return r.Method == http.MethodPost && strings.Contains(r.Path, "/blobs/uploads/")
		}); len(opened) > 0 {
			break
		}
	}
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGINT)
	err = c.Wait()
	t.Logf("$ docker %s  # %v\n%s", strings.Join(args, " "), err, indent(stderr.String()))
	if code := c.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "interrupted by SIGINT") {
		t.Errorf("stderr is %q, want one line saying it was interrupted", stderr.String())
	}
	rs := dst.RequestsSince(mark)
	for deadline := time.Now().Add(5 * time.Second); sessionsLeftOpen(rs) != nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rs = dst.RequestsSince(mark) // the registry's log may lag its answers
	}
	opened := rs.Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.Path, "/blobs/uploads/") && r.Status == http.StatusAccepted
	})
	if len(opened) == 0 {
		t.Fatalf("no upload session was open when the copy was interrupted:\n%s", rs)
	}
	if err := sessionsLeftOpen(rs); err != nil {
		t.Error(err)
	}
}

// TestArchiveSparseEntry: an archive holding entries no manifest names,
// a GNU sparse file and a regular one of GiBs of zeros (a hole in the
// archive), is read with TMPDIR on a small tmpfs: the copy succeeds and
// nothing is left in TMPDIR.
func TestArchiveSparseEntry(t *testing.T) {
	tmp := smallTmpfs(t, "32m")
	reg := plainRegistry(t)
	repo := testRepo(t, "src")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	e := newEnv(t)
	cases := []struct {
		name, transport string
		args            []string
		size            int64
		gzip            bool
	}{
		{"oci-archive", "oci-archive", nil, 4 << 30, false},
		{"docker-archive", "docker-archive", []string{"--platform", "linux/amd64"}, 4 << 30, false},
		// containers/image expands a compressed docker-archive whole into
		// TMPDIR; a GiB of zeros is enough to show it.
		{"docker-archive-gzip", "docker-archive", []string{"--platform", "linux/amd64"}, 1 << 30, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "app.tar")
			mustCopy(t, e, append(tc.args, reg.Ref(repo+":v1"), tc.transport+":"+archive)...)
			want := mustCopy(t, e, tc.transport+":"+archive, reg.Ref(repo+":before-"+tc.name))
			if tc.transport == "oci-archive" && want != list.Digest {
				t.Fatalf("the archive holds %s, want %s", want, list.Digest)
			}
			addUnreferenced(t, archive, tc.size)
			if tc.gzip {
				if out, err := exec.Command("gzip", "-1", archive).CombinedOutput(); err != nil {
					t.Fatalf("gzip: %v\n%s", err, out)
				}
				if err := os.Rename(archive+".gz", archive); err != nil {
					t.Fatal(err)
				}
			}
			e.setenv("TMPDIR", tmp)
			defer e.setenv("TMPDIR", "")
			if d := mustCopy(t, e, tc.transport+":"+archive, reg.Ref(repo+":back-"+tc.name)); d != want {
				t.Errorf("copied %s, want %s as before the entries were added", d, want)
			}
			layout := filepath.Join(dir, "layout")
			mustCopy(t, e, tc.transport+":"+archive, "oci:"+layout+":v1")
			if left := entriesOf(t, tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}

// addUnreferenced rewrites a tar archive with two more entries no
// manifest names: a regular one of size zero bytes, written as a hole so
// that the archive takes no room for it, and a GNU sparse file of size
// bytes (archived by GNU tar).
func addUnreferenced(t *testing.T, archive string, size int64) {
	t.Helper()
	work := t.TempDir()
	f, err := os.Create(filepath.Join(work, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt([]byte("end"), size-3)
	f.Close()
	sparseTar := filepath.Join(work, "sparse.tar")
	if out, err := exec.Command("tar", "--sparse", "-cf", sparseTar, "-C", work, "sparse.img").CombinedOutput(); err != nil {
		t.Fatalf("tar --sparse: %v\n%s", err, out)
	}
	in, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := archive + ".new"
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	hw := &holeWriter{f: out}
	tw := tar.NewWriter(hw)
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	for n := int64(0); n < size; n += int64(len(zeroBlock)) {
		if _, err := tw.Write(zeroBlock[:min(int64(len(zeroBlock)), size-n)]); err != nil {
			t.Fatal(err)
		}
	}
	// No end of archive from tw: GNU tar's archive, appended whole, ends it.
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	gnu, err := os.ReadFile(sparseTar)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteAt(gnu, hw.pos); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, archive); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	_ = syscall.Stat(archive, &st)
	t.Logf("%s: %d bytes, %d on disk", archive, st.Size, st.Blocks*512)
}

var zeroBlock = make([]byte, 1<<20)

// holeWriter writes blocks of zeros as holes.
type holeWriter struct {
	f   *os.File
	pos int64
}

func (w *holeWriter) Write(p []byte) (int, error) {
	if len(p) <= len(zeroBlock) && bytes.Equal(p, zeroBlock[:len(p)]) {
		w.pos += int64(len(p))
		return len(p), nil
	}
	n, err := w.f.WriteAt(p, w.pos)
	w.pos += int64(n)
	return n, err
}
