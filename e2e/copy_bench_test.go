package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/procstat"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// Benchmarks of `docker mlist copy` against `skopeo copy --all`.
//
//	make bench                      # BenchmarkCopyAcrossRegistries (BenchmarkCopyLarge skips)
//	MLIST_BENCH_LARGE=1 make bench  # also the 768 MiB copy
//	CGO_ENABLED=0 go test -tags containers_image_openpgp -run '^$' -bench CopyLarge -benchtime 1x ./e2e/
//
// Each iteration copies into a fresh destination registry process: skopeo
// remembers where it saw blobs (its blob-info cache) and would mount them
// from an earlier iteration's repository instead of uploading them.

const (
	// benchDelay is what the proxies add to every request.
	benchDelay = 20 * time.Millisecond
	// copyTimeTarget is the target wall time against skopeo's.
	copyTimeTarget = 0.8
	// copyRSSBudget is the most memory the plugin may hold while streaming.
	copyRSSBudget = 64 << 20
)

// benchSeq makes repository names unique across the runs of a benchmark.
var benchSeq atomic.Int64

// skopeo runs skopeo with nothing of the host's configuration: no
// credentials, an accept-anything policy, no registries.conf.
type skopeo struct {
	bin  string
	dir  string
	args []string
	env  []string
}

// findSkopeo returns nil, with a log line, when skopeo is not installed.
func findSkopeo(b *testing.B) *skopeo {
	b.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		b.Log("skopeo not found in PATH: skipping the comparison (Debian package skopeo; `make setup` installs it)")
		return nil
	}
	dir := b.TempDir()
	files := map[string]string{
		"policy.json":     `{"default":[{"type":"insecureAcceptAnything"}]}`,
		"auth.json":       `{}`,
		"registries.conf": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "registries.d"), 0o755); err != nil {
		b.Fatal(err)
	}
	env := []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"),
		"REGISTRY_AUTH_FILE=" + filepath.Join(dir, "auth.json"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf")}
	return &skopeo{bin: bin, dir: dir, env: env, args: []string{
		"--policy", filepath.Join(dir, "policy.json"), "--registries.d", filepath.Join(dir, "registries.d"),
	}}
}

// copy runs skopeo copy --all between two registries over plain HTTP.
func (s *skopeo) copy(b *testing.B, from, to string) (time.Duration, int64) {
	b.Helper()
	args := append(slices.Clone(s.args), "copy", "--all", "--quiet",
		"--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+from, "docker://"+to)
	return runTimed(b, s.env, s.bin, args...)
}

// lastCPU is the user+system CPU time of runTimed's last command: on a
// 2-core machine shared with the registries, CPU spent is wall time lost.
var lastCPU time.Duration

// runTimed runs a command and returns its wall time and peak RSS; it fails
// b when the command fails.
func runTimed(b *testing.B, env []string, name string, args ...string) (time.Duration, int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := procstat.WatchPeakRSS(cmd.Process.Pid, 5*time.Millisecond)
	err := cmd.Wait()
	d := time.Since(start)
	rss := stop()
	if cmd.ProcessState != nil {
		lastCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return d, rss
}

// BenchmarkCopyAcrossRegistries copies a 4-platform list (each image 3
// layers of 1 MiB) between two registries, each behind a proxy adding 20 ms
// per request, with `docker mlist copy` and, when installed, with `skopeo
// copy --all`. ns/op is the plugin's wall time; requests/op counts what both
// proxies forwarded, /v2/ pings included.
func BenchmarkCopyAcrossRegistries(b *testing.B) {
	src := startRegistry(b, harness.RegistryOptions{})
	srcProxy := startCountingProxy(b, src, benchDelay)
	repo := "bench/app"
	list := pushCrossCopySource(b, src, repo)
	from := srcProxy.Host + "/" + repo + ":v1"
	e := newEnv(b)
	sk := findSkopeo(b)

	var (
		mlistReqs, skopeoReqs int
		mlistTime, skopeoTime time.Duration
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst, err := harness.Start(harness.RegistryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		dstProxy, err := proxy.Start(dst.URL, proxy.Options{Delay: benchDelay})
		if err != nil {
			b.Fatal(err)
		}
		n := benchSeq.Add(1)
		mlistRepo, skopeoRepo := fmt.Sprintf("bench/mlist-%d", n), fmt.Sprintf("bench/skopeo-%d", n)

		runMlist := func() {
			d, reqs := crossCopy(b, e, srcProxy, dstProxy, dst, from, mlistRepo, list)
			mlistTime += d
			mlistReqs += len(reqs)
			if len(reqs) > crossCopyRequests {
				b.Errorf("docker mlist copy made %d requests, README says %d:\n%s", len(reqs), crossCopyRequests, reqs)
			}
			if i == 0 {
				b.Logf("docker mlist copy: %d requests (source %d, destination %d) in %v", len(reqs), len(srcProxy.Requests()), len(dstProxy.Requests()), d)
			}
		}
		runSkopeo := func() {
			srcProxy.Reset()
			dstProxy.Reset()
			d, _ := sk.copy(b, from, dstProxy.Host+"/"+skopeoRepo+":v1")
			skopeoTime += d
			skopeoReqs += srcProxy.Count() + dstProxy.Count()
			if i == 0 {
				b.Logf("skopeo copy --all: %d requests (source %d, destination %d) in %v", srcProxy.Count()+dstProxy.Count(), len(srcProxy.Requests()), len(dstProxy.Requests()), d)
			}
		}
		// Alternate who goes first, so neither always meets a colder registry.
		switch {
		case sk == nil:
			runMlist()
		case i%2 == 0:
			runMlist()
			runSkopeo()
		default:
			runSkopeo()
			runMlist()
		}

		if sk != nil {
			if m := dst.MustGetManifest(b, skopeoRepo, "v1"); m.Digest != list.Digest {
				b.Errorf("skopeo wrote %s, want %s", m.Digest, list.Digest)
			}
		}
		_ = dstProxy.Close()
		_ = dst.Close()
	}
	b.ReportMetric(float64(mlistReqs)/float64(b.N), "requests/op")
	b.ReportMetric(mlistTime.Seconds()/float64(b.N), "s/op")
	if sk == nil {
		return
	}
	ratio := mlistTime.Seconds() / skopeoTime.Seconds()
	b.ReportMetric(float64(skopeoReqs)/float64(b.N), "skopeo-requests/op")
	b.ReportMetric(skopeoTime.Seconds()/float64(b.N), "skopeo-s/op")
	b.ReportMetric(ratio, "ratio-vs-skopeo")
	if ratio > copyTimeTarget {
		b.Logf("docker mlist copy took %.2fx skopeo's time; target ≤ %.1fx", ratio, copyTimeTarget)
	}
}

// largeBenchSelected reports whether BenchmarkCopyLarge should run: with
// MLIST_BENCH_LARGE set, or when -bench names it.
func largeBenchSelected() bool {
	if v := os.Getenv("MLIST_BENCH_LARGE"); v != "" && v != "0" && v != "false" {
		return true
	}
	f := flag.Lookup("test.bench")
	return f != nil && strings.Contains(f.Value.String(), "Large")
}

// BenchmarkCopyLarge copies a 768 MiB 4-platform list (4 images x 3 layers
// x 64 MiB) between two local registries, without proxies, running the
// plugin binary directly so its own peak RSS can be read. It reports the
// plugin's throughput (MB/s) and peak RSS, and those of each peer installed
// (skopeo, crane, regctl), each copy into a fresh registry, and the
// plugin's wall time against the best peer's (ratio-vs-best-peer, target
// ≤ 1.0). Each iteration is one round per tool, each tool first once.
// Skipped unless MLIST_BENCH_LARGE=1 or -bench names it.
func BenchmarkCopyLarge(b *testing.B) {
	if !largeBenchSelected() {
		b.Skip("768 MiB copy: run with MLIST_BENCH_LARGE=1 or -bench CopyLarge")
	}
	const (
		layers    = 3
		layerSize = 64 << 20
	)
	src := startRegistry(b, harness.RegistryOptions{})
	repo := "bench/large"
	var imgs []harness.Image
	var total int64
	genStart := time.Now()
	for i, p := range copyPlatforms {
		img := pushLargeImage(b, src, repo, harness.TagFor("img", p), p, layers, layerSize, uint64(i))
		for _, l := range append([]harness.Descriptor{img.Config}, img.Layers...) {
			total += l.Size
		}
		imgs = append(imgs, img)
	}
	list := src.PushList(b, repo, "v1", imgs, harness.ListOptions{})
	b.Logf("generated and pushed %d MiB in %v", total>>20, time.Since(genStart))
	from := src.Host + "/" + repo + ":v1"
	e := newEnv(b)
	env := e.environ()
	peers := findPeers(b)

	var mlistTime time.Duration
	var mlistRSS int64
	peerTime := make([]time.Duration, len(peers))
	peerRSS := make([]int64, len(peers))
	var mlistCPU time.Duration
	peerCPU := make([]time.Duration, len(peers))
	// copyInto runs one copy into a fresh registry, so no tool finds
	// another's blobs, and checks the list arrived.
	copyInto := func(run func(to string) (time.Duration, int64)) (time.Duration, int64) {
		dst, err := harness.Start(harness.RegistryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer dst.Close()
		// The earlier copies left gigabytes for the kernel to write back:
		// flushed first, they do not slow whichever tool comes next.
		syscall.Sync()
		d, rss := run(dst.Host + "/bench/large:v1")
		if m := dst.MustGetManifest(b, "bench/large", "v1"); m.Digest != list.Digest {
			b.Fatalf("destination holds %s, want %s", m.Digest, list.Digest)
		}
		return d, rss
	}
	mlist := func(to string) (time.Duration, int64) {
		b.StartTimer()
		d, rss := runTimed(b, env, pluginBinary, "mlist", "copy", "-q", from, to)
		b.StopTimer()
		mlistCPU += lastCPU
		return d, rss
	}
	// Each iteration runs every tool once in every position: the first
	// copy of a round meets other page-cache and CPU-frequency states than
	// the last.
	rounds := len(peers) + 1
	b.SetBytes(total * int64(rounds))
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for k := 0; k < rounds; k++ {
				j := (k+r)%rounds - 1 // -1 is the plugin
				if j < 0 {
					d, rss := copyInto(mlist)
					mlistTime += d
					mlistRSS = max(mlistRSS, rss)
					continue
				}
				p := peers[j]
				d, rss := copyInto(func(to string) (time.Duration, int64) { return p.run(b, from, to) })
				peerTime[j] += d
				peerRSS[j] = max(peerRSS[j], rss)
				peerCPU[j] += lastCPU
			}
		}
	}
	copies := b.N * rounds
	mbps := func(d time.Duration) float64 { return float64(total) * float64(copies) / 1e6 / d.Seconds() }
	b.ReportMetric(float64(mlistRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(mlistCPU.Seconds()/float64(copies), "cpu-s/op")
	b.Logf("docker mlist copy: %.0f MB/s, peak RSS %.1f MiB, %.2fs CPU", mbps(mlistTime), float64(mlistRSS)/(1<<20), mlistCPU.Seconds()/float64(copies))
	if mlistRSS > copyRSSBudget {
		b.Errorf("the plugin peaked at %.1f MiB RSS, budget %d MiB", float64(mlistRSS)/(1<<20), copyRSSBudget>>20)
	}
	best := -1
	for j, p := range peers {
		b.ReportMetric(mbps(peerTime[j]), p.name+"-MB/s")
		b.ReportMetric(float64(peerRSS[j])/(1<<20), p.name+"-peak-RSS-MiB")
		b.ReportMetric(peerCPU[j].Seconds()/float64(copies), p.name+"-cpu-s/op")
		b.Logf("%s: %.0f MB/s, peak RSS %.1f MiB, %.2fs CPU; docker mlist copy took %.2fx its time", p.name,
			mbps(peerTime[j]), float64(peerRSS[j])/(1<<20), peerCPU[j].Seconds()/float64(copies), mlistTime.Seconds()/peerTime[j].Seconds())
		if best < 0 || peerTime[j] < peerTime[best] {
			best = j
		}
	}
	if best < 0 {
		return
	}
	ratio := mlistTime.Seconds() / peerTime[best].Seconds()
	b.ReportMetric(ratio, "ratio-vs-best-peer")
	b.Logf("best peer: %s (ratio %.2f; target ≤ 1.0)", peers[best].name, ratio)
}

// pushLargeImage pushes a Docker v2s2 image of n layers of size random
// bytes each. Layers are gzip streams of stored (level 0) blocks: valid
// gzip, like any pushed layer, but quick to make.
func pushLargeImage(b *testing.B, reg *harness.Registry, repo, tag, platform string, n, size int, seed uint64) harness.Image {
	b.Helper()
	p, err := harness.ParsePlatform(platform)
	if err != nil {
		b.Fatal(err)
	}
	c := reg.Client()
	var layers []harness.Descriptor
	var diffIDs []string
	for i := 0; i < n; i++ {
		gz, diffID := largeLayer(b, size, seed*1000+uint64(i))
		d, err := c.PushBlob(repo, gz)
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, harness.Descriptor{MediaType: harness.MediaTypeDockerLayer, Digest: d, Size: int64(len(gz))})
		diffIDs = append(diffIDs, diffID)
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": p.Architecture, "os": p.OS, "variant": p.Variant, "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		b.Fatal(err)
	}
	cfgDigest, err := c.PushBlob(repo, cfg)
	if err != nil {
		b.Fatal(err)
	}
	m := harness.ImageManifest{SchemaVersion: 2, MediaType: harness.MediaTypeDockerManifest,
		Config: harness.Descriptor{MediaType: harness.MediaTypeDockerConfig, Digest: cfgDigest, Size: int64(len(cfg))},
		Layers: layers}
	raw, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	d, err := c.PutManifest(repo, tag, m.MediaType, raw)
	if err != nil {
		b.Fatal(err)
	}
	return harness.Image{Repo: repo, Tag: tag, Digest: d, MediaType: m.MediaType, Raw: raw, Platform: p, Config: m.Config, Layers: layers}
}

// largeLayer returns a gzip (stored blocks) of a tar holding one file of
// size random bytes, and the tar's digest (the diff ID).
func largeLayer(b *testing.B, size int, seed uint64) ([]byte, string) {
	b.Helper()
	var seedBytes [32]byte
	seedBytes[0], seedBytes[1] = byte(seed), byte(seed>>8)
	rnd := rand.NewChaCha8(seedBytes)
	var out bytes.Buffer
	out.Grow(size + size/1000 + 4096)
	zw, err := gzip.NewWriterLevel(&out, gzip.NoCompression)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(h, zw))
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("bench/%d.bin", seed), Mode: 0o644, Size: int64(size),
		ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(tw, rnd, int64(size)); err != nil {
		b.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return out.Bytes(), "sha256:" + hex.EncodeToString(h.Sum(nil))
}
