package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// Issue 10's speed targets, every registry behind a proxy adding 20 ms per
// request (benchDelay):
//
//	go test -tags containers_image_openpgp -run '^$' -bench 'Engine' ./e2e/

const (
	// wideRatioTarget is the most a 16-platform create+push may take
	// against a 4-platform one: small requests must not queue behind the
	// blob-stream limit.
	wideRatioTarget = 1.3
	// peerTimeTarget is the target wall time of that copy against the best
	// of crane, regctl and skopeo in the same run.
	peerTimeTarget = 0.8
)

// BenchmarkEngineCreatePushWide times create+push of a 16-platform list
// against a 4-platform one, in the images' repository (ratio-16-vs-4,
// target ≤ 1.3), and reports the requests of the 4-platform one there
// (requests-same-repo) and into another repository of the same registry
// (requests-other-repo), and of copying that list into a third repository
// (requests-copy-other-repo); TestRequestCounts holds them to README's.
func BenchmarkEngineCreatePushWide(b *testing.B) {
	reg := startRegistry(b, harness.RegistryOptions{})
	p := startCountingProxy(b, reg, benchDelay)
	e := newEnv(b)
	e.t = quietTB{b}

	var t4, t16 time.Duration
	var same, other, copied int
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		n := benchSeq.Add(1)
		repo := func(s string) string { return fmt.Sprintf("bench/%s-%d", s, n) }
		// Both orders in every iteration, so neither size always meets a
		// colder (or busier) registry.
		for k, order := range [][]string{{"four", "wide"}, {"wide", "four"}} {
			for _, size := range order {
				r := fmt.Sprintf("%s-%d", size, k)
				if size == "wide" {
					d, _ := createPush(b, e, reg, p, repo(r), repo(r), widePlatforms)
					t16 += d
					continue
				}
				d, reqs := createPush(b, e, reg, p, repo(r), repo(r), copyPlatforms)
				t4 += d
				if k == 0 {
					same += reqs
				}
			}
		}
		_, reqs := createPush(b, e, reg, p, repo("images"), repo("list"), copyPlatforms)
		other += reqs
		copied += copyOtherRepo(b, e, reg, p, repo("list"), repo("copy"))
		if i == 0 {
			b.Logf("4 platforms: create+push %d requests in the images' repository, %d into another; copy into another %d; 16 platforms %v against 4 platforms %v",
				same, other, copied, t16, t4)
		}
	}
	ratio := t16.Seconds() / t4.Seconds()
	b.ReportMetric(ratio, "ratio-16-vs-4")
	b.ReportMetric(t4.Seconds()/float64(2*b.N), "s/op-4")
	b.ReportMetric(t16.Seconds()/float64(2*b.N), "s/op-16")
	b.ReportMetric(float64(same)/float64(b.N), "requests-same-repo")
	b.ReportMetric(float64(other)/float64(b.N), "requests-other-repo")
	b.ReportMetric(float64(copied)/float64(b.N), "requests-copy-other-repo")
	if ratio > wideRatioTarget {
		b.Logf("16 platforms took %.2fx the time of 4; target ≤ %.1fx", ratio, wideRatioTarget)
	}
	if got := float64(same) / float64(b.N); got > sameRepoPushRequests {
		b.Errorf("create+push of 4 platforms made %.1f requests, README says %d", got, sameRepoPushRequests)
	}
	if got := float64(other) / float64(b.N); got > otherRepoPushRequests {
		b.Errorf("create+push of 4 platforms into another repository made %.1f requests, README says %d", got, otherRepoPushRequests)
	}
	if got := float64(copied) / float64(b.N); got > otherRepoCopyRequests {
		b.Errorf("copy of the 4-platform list into another repository made %.1f requests, README says %d", got, otherRepoCopyRequests)
	}
}

// peerCopier copies a list between two plain-HTTP registries with a tool
// other than docker-mlist, with a configuration of its own.
type peerCopier struct {
	name string
	// run returns the copy's wall time and the peer's peak RSS.
	run func(b *testing.B, from, to string) (time.Duration, int64)
}

// findPeers returns the peers installed: skopeo, crane, regctl.
func findPeers(b *testing.B) []peerCopier {
	var peers []peerCopier
	if sk := findSkopeo(b); sk != nil {
		peers = append(peers, peerCopier{"skopeo", sk.copy})
	}
	if cr := findCrane(b); cr != nil {
		peers = append(peers, peerCopier{"crane", func(b *testing.B, from, to string) (time.Duration, int64) {
			return runTimed(b, cr.env, cr.bin, "copy", "--insecure", from, to)
		}})
	}
	if rc := findRegctl(b); rc != nil {
		peers = append(peers, peerCopier{"regctl", func(b *testing.B, from, to string) (time.Duration, int64) {
			return runTimed(b, rc.env, rc.bin, rc.args([]string{from, to}, "image", "copy", from, to)...)
		}})
	}
	return peers
}

// regctlTool is regctl with a configuration of its own (no credentials).
type regctlTool struct {
	bin string
	env []string
}

// findRegctl returns nil, with a log line, when regctl is not installed.
func findRegctl(b *testing.B) *regctlTool {
	b.Helper()
	bin, err := exec.LookPath("regctl")
	if err != nil {
		b.Log("regctl not found in PATH: skipping the regctl comparison (scripts/peers.sh installs it)")
		return nil
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o600); err != nil {
		b.Fatal(err)
	}
	return &regctlTool{bin: bin, env: []string{"HOME=" + dir, "DOCKER_CONFIG=" + dir, "REGCTL_CONFIG=" + filepath.Join(dir, "regctl.json"), "PATH=" + os.Getenv("PATH")}}
}

// args is cmd preceded by the --host flags that let regctl speak plain
// HTTP to the registry of each of refs.
func (r *regctlTool) args(refs []string, cmd ...string) []string {
	var hosts []string
	for _, ref := range refs {
		hosts = append(hosts, "--host", "reg="+strings.SplitN(ref, "/", 2)[0]+",tls=disabled")
	}
	return append(hosts, cmd...)
}

// BenchmarkEngineCopyVsPeers copies a 4-platform list (each image 3 layers
// of 1 MiB) between two registries with `docker mlist copy` and each peer
// installed, each copy into a fresh destination registry, and reports the
// plugin's requests (README: crossCopyRequests) and its wall time against the best peer's
// (ratio-vs-best-peer, target ≤ 0.8).
func BenchmarkEngineCopyVsPeers(b *testing.B) {
	// timeline, while set, records when each request was forwarded (after
	// the proxy's delay) and when it was answered: the plugin's first copy
	// is logged with it, to show its critical path.
	var timeline func(r *http.Request, answered bool)
	var timelineMu sync.Mutex
	record := func(_ http.ResponseWriter, r *http.Request) bool {
		timelineMu.Lock()
		defer timelineMu.Unlock()
		if timeline != nil {
			timeline(r, false)
		}
		return false
	}
	done := func(r *http.Request, _ int) {
		timelineMu.Lock()
		defer timelineMu.Unlock()
		if timeline != nil {
			timeline(r, true)
		}
	}
	src := startRegistry(b, harness.RegistryOptions{})
	srcProxy, err := proxy.Start(src.URL, proxy.Options{Delay: benchDelay, Intercept: record, Done: done})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srcProxy.Close() })
	repo := "bench/app"
	list := pushCrossCopySource(b, src, repo)
	from := srcProxy.Host + "/" + repo + ":v1"
	e := newEnv(b)
	e.t = quietTB{b}
	peers := findPeers(b)

	var mlistTime time.Duration
	var mlistReqs int
	peerTime := make([]time.Duration, len(peers))
	peerReqs := make([]int, len(peers))
	// copyInto runs one copy into a fresh registry behind its own proxy and
	// checks the list arrived.
	var firstLog harness.Requests
	copyInto := func(run func(to string) time.Duration) (time.Duration, int) {
		dst, err := harness.Start(harness.RegistryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer dst.Close()
		dstProxy, err := proxy.Start(dst.URL, proxy.Options{Delay: benchDelay, Intercept: record, Done: done})
		if err != nil {
			b.Fatal(err)
		}
		defer dstProxy.Close()
		srcProxy.Reset()
		d := run(dstProxy.Host + "/bench/copy:v1")
		if m := dst.MustGetManifest(b, "bench/copy", "v1"); m.Digest != list.Digest {
			b.Fatalf("destination holds %s, want %s", m.Digest, list.Digest)
		}
		reqs := append(srcProxy.Requests(), dstProxy.Requests()...)
		if firstLog == nil {
			firstLog = reqs
		}
		return d, len(reqs)
	}
	var lines []string
	mlist := func(to string) time.Duration {
		start := time.Now()
		if lines == nil {
			timelineMu.Lock()
			timeline = func(r *http.Request, answered bool) {
				what := "forwarded"
				if answered {
					what = "answered "
				}
				lines = append(lines, fmt.Sprintf("%4dms %s %s %s", time.Since(start).Milliseconds(), what, r.Method, r.URL.Path))
			}
			timelineMu.Unlock()
		}
		b.StartTimer()
		r := e.mlist("copy", "-q", from, to)
		b.StopTimer()
		d := time.Since(start)
		timelineMu.Lock()
		if timeline != nil {
			timeline = nil
			b.Logf("docker mlist copy, when each request was forwarded (after the %v delay) and answered (done at %dms):\n%s", benchDelay, d.Milliseconds(), strings.Join(lines, "\n"))
		}
		timelineMu.Unlock()
		if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != list.Digest {
			b.Fatalf("docker mlist copy: exit %d, stdout %q, want %s\n%s", r.ExitCode, r.Stdout, list.Digest, r.Stderr)
		}
		return d
	}

	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		// The plugin goes first on even rounds and last on odd ones.
		if i%2 == 0 {
			d, n := copyInto(mlist)
			mlistTime, mlistReqs = mlistTime+d, mlistReqs+n
		}
		for j, p := range peers {
			d, n := copyInto(func(to string) time.Duration { d, _ := p.run(b, from, to); return d })
			peerTime[j] += d
			peerReqs[j] += n
			if i == 0 {
				b.Logf("%s: %d requests in %v", p.name, n, d)
			}
		}
		if i%2 == 1 {
			d, n := copyInto(mlist)
			mlistTime, mlistReqs = mlistTime+d, mlistReqs+n
		}
		if i == 0 {
			b.Logf("docker mlist copy: %d requests in %v", mlistReqs, mlistTime)
		}
	}
	reqs := float64(mlistReqs) / float64(b.N)
	b.ReportMetric(reqs, "requests/op")
	b.ReportMetric(mlistTime.Seconds()/float64(b.N), "s/op")
	if reqs > crossCopyRequests {
		b.Errorf("docker mlist copy made %.1f requests, README says %d; the first run's (source, then destination):\n%s", reqs, crossCopyRequests, firstLog)
	}
	best := -1
	for j, p := range peers {
		b.ReportMetric(peerTime[j].Seconds()/float64(b.N), p.name+"-s/op")
		b.ReportMetric(float64(peerReqs[j])/float64(b.N), p.name+"-requests/op")
		b.Logf("%s: %.1f requests, %.3fs per copy; docker mlist copy took %.2fx its time", p.name,
			float64(peerReqs[j])/float64(b.N), peerTime[j].Seconds()/float64(b.N), mlistTime.Seconds()/peerTime[j].Seconds())
		if best < 0 || peerTime[j] < peerTime[best] {
			best = j
		}
	}
	if best < 0 {
		b.Log("no peer installed: no time comparison")
		return
	}
	ratio := mlistTime.Seconds() / peerTime[best].Seconds()
	b.ReportMetric(ratio, "ratio-vs-best-peer")
	b.Logf("best peer: %s (ratio %.2f)", peers[best].name, ratio)
	if ratio > peerTimeTarget {
		b.Logf("docker mlist copy took %.2fx %s's time; target ≤ %.1fx", ratio, peers[best].name, peerTimeTarget)
	}
}
