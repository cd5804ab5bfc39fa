package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// The fault run of issue 9: create+push, merge and cross-registry copy
// through proxies that answer 10% of requests with 429/500/502/503 and cut
// 5% of blob bodies, one run per seed, beside `skopeo copy --all
// --retry-times 3` and `crane copy` (where installed) through the same
// faults.
//
//	make bench
//	MLIST_BENCH_FAULT_SEEDS=20 go test -tags containers_image_openpgp -run '^$' -bench Faults ./e2e/

const (
	// faultBenchSeeds is how many seeds the fault run tries by default.
	faultBenchSeeds = 5
	// faultRequestTarget is the most requests a run through faults should
	// make, relative to the same run without faults.
	faultRequestTarget = 1.3
)

// benchFaultSeeds returns the seeds of the fault run: 1..N, N from
// MLIST_BENCH_FAULT_SEEDS or faultBenchSeeds.
func benchFaultSeeds(b *testing.B) []uint64 {
	n := faultBenchSeeds
	if v := os.Getenv("MLIST_BENCH_FAULT_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("MLIST_BENCH_FAULT_SEEDS=%q: want a number of seeds, 1 or more", v)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// faultTally sums the runs of one command over the seeds.
type faultTally struct {
	name     string
	baseline int // requests of the fault-free run
	ok, runs int
	okReqs   int // requests of the successful runs
	injected int
	failures []string
}

func (t *faultTally) add(seed uint64, r faultRun) {
	t.runs++
	t.injected += len(r.injected)
	if r.err != nil {
		t.failures = append(t.failures, fmt.Sprintf("%s, seed %d: failed after %d requests and %d faults: %v",
			t.name, seed, r.requests, len(r.injected), strings.ReplaceAll(r.err.Error(), "\n", "; ")))
		return
	}
	t.ok++
	t.okReqs += r.requests
}

// report adds <name>-ok (successful runs per iteration) and <name>-requests
// (requests of a successful run over the fault-free run's).
func (t *faultTally) report(b *testing.B, seeds int) {
	metric := strings.ReplaceAll(t.name, "+", "-")
	b.ReportMetric(float64(t.ok)/float64(b.N), metric+"-ok")
	ratio := 0.0
	if t.ok > 0 && t.baseline > 0 {
		ratio = float64(t.okReqs) / float64(t.ok) / float64(t.baseline)
		b.ReportMetric(ratio, metric+"-requests-x")
	}
	b.Logf("%s: %d of %d runs through faults succeeded (%d seeds); %.2fx the %d requests of the fault-free run; %d faults injected",
		t.name, t.ok, t.runs, seeds, ratio, t.baseline, t.injected)
}

// quietTB drops the command transcripts an env logs, which would bury the
// benchmark's summary (benchmark logs are cut after a few lines).
type quietTB struct{ testing.TB }

func (quietTB) Logf(string, ...any) {}

// BenchmarkFaults reports, for create+push, merge and copy, how many seeds
// of issue 9's fault mix each survives (checked on the registries, not on
// the plugin's output) and how many requests a successful run makes
// relative to the fault-free run (requests-x), beside skopeo and crane
// copying the same list through the same faults.
func BenchmarkFaults(b *testing.B) {
	reg, other := startRegistry(b, harness.RegistryOptions{}), startRegistry(b, harness.RegistryOptions{})
	e := newEnv(b)
	e.t = quietTB{b}
	seeds := benchFaultSeeds(b)
	sk := findSkopeo(b)
	crane := findCrane(b)

	type tool struct {
		name string
		run  func(f proxy.Faults) faultRun
	}
	tools := []tool{
		{"create+push", func(f proxy.Faults) faultRun { return runCreatePushFaults(b, e, reg, f) }},
		{"merge", func(f proxy.Faults) faultRun { return runMergeFaults(b, e, reg, other, f) }},
		{"copy", func(f proxy.Faults) faultRun { return runCopyFaults(b, e, reg, other, f) }},
	}
	if sk != nil {
		tools = append(tools, tool{"skopeo-copy", func(f proxy.Faults) faultRun {
			return runOtherCopyFaults(b, reg, other, f, func(from, to string) (string, []string, []string) {
				args := append(slices.Clone(sk.args), "copy", "--all", "--quiet", "--retry-times", "3",
					"--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+from, "docker://"+to)
				return sk.bin, args, sk.env
			})
		}})
	}
	if crane != nil {
		tools = append(tools, tool{"crane-copy", func(f proxy.Faults) faultRun {
			return runOtherCopyFaults(b, reg, other, f, func(from, to string) (string, []string, []string) {
				return crane.bin, []string{"copy", "--insecure", from, to}, crane.env
			})
		}})
	}

	tallies := make([]*faultTally, len(tools))
	for i, t := range tools {
		tallies[i] = &faultTally{name: t.name}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, t := range tools {
			base := t.run(proxy.Faults{})
			if base.err != nil {
				b.Fatalf("%s without faults: %v", t.name, base.err)
			}
			tallies[j].baseline = base.requests
			for _, seed := range seeds {
				tallies[j].add(seed, t.run(transientFaults(seed)))
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(seeds)), "seeds")
	for _, t := range tallies {
		t.report(b, len(seeds))
	}
	b.Logf("target: every run, at most %.1fx the fault-free requests", faultRequestTarget)
	for _, t := range tallies {
		for _, f := range t.failures {
			b.Log(f)
		}
	}
}

// runOtherCopyFaults copies a 4-platform list between two registries, each
// behind a proxy injecting f (different seeds), with another tool: command
// gives its binary, arguments and environment. Success is the destination
// holding the source's list digest with every entry.
func runOtherCopyFaults(b *testing.B, src, dst *harness.Registry, f proxy.Faults, command func(from, to string) (string, []string, []string)) faultRun {
	b.Helper()
	fc := newFaultCopy(b, src, dst, f)
	defer fc.close()
	dstRepo, list, ps, pd := fc.dstRepo, fc.list, fc.ps, fc.pd
	bin, args, env := command(fc.from(), fc.to())
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := faultRun{requests: ps.Count() + pd.Count(), injected: append(ps.Injected(), pd.Injected()...)}
	if err != nil {
		r.err = fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, strings.TrimSpace(out.String()))
		return r
	}
	m, gerr := dst.Client().GetManifest(dstRepo, "v1")
	switch {
	case gerr != nil:
		r.err = gerr
	case m.Digest != list.Digest:
		r.err = fmt.Errorf("%s: destination holds %q (status %d), want %s", filepath.Base(bin), m.Digest, m.Status, list.Digest)
	default:
		for _, img := range list.Images {
			if cerr := checkEntryAt(dst, dstRepo, img.Digest, nil); cerr != nil {
				r.err = cerr
				break
			}
		}
	}
	return r
}

// craneTool is crane with a configuration of its own (no credentials).
type craneTool struct {
	bin string
	env []string
}

// findCrane returns nil, with a log line, when crane is not installed.
func findCrane(b *testing.B) *craneTool {
	b.Helper()
	bin, err := exec.LookPath("crane")
	if err != nil {
		b.Log("crane not found in PATH: skipping the crane comparison (go install github.com/google/go-containerregistry/cmd/crane@latest)")
		return nil
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o600); err != nil {
		b.Fatal(err)
	}
	return &craneTool{bin: bin, env: []string{"HOME=" + dir, "DOCKER_CONFIG=" + dir, "PATH=" + os.Getenv("PATH")}}
}
