package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// mergeRequestBudget is the most registry requests a same-repository merge
// may make (issue 3). The plugin makes 4: read SOURCE, read DESTINATION,
// check DESTINATION, put; its first request also settles the scheme and
// authentication, so there is no /v2/ ping.
const mergeRequestBudget = 5

// BenchmarkMergeSameRepo merges a 2-platform SOURCE into a 4-platform
// DESTINATION of the same repository with the real `docker mlist merge`,
// and reports the registry requests each merge made (requests/op, from the
// registry's own access log). It fails when a merge makes more than
// mergeRequestBudget requests or repeats one.
func BenchmarkMergeSameRepo(b *testing.B) {
	reg := startRegistry(b, harness.RegistryOptions{})
	repo := "bench/app"
	f := pushMergeFixture(b, reg, reg, repo, repo, harness.ListOptions{})
	e := newEnv(b)
	src, dst := f.srcRef(), f.dstRef()

	var total int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Reset DESTINATION to the 4-platform list.
		if _, err := reg.Client().PutManifest(repo, f.dstTag, f.dst.MediaType, f.dst.Raw); err != nil {
			b.Fatal(err)
		}
		mark := reg.Mark()
		b.StartTimer()
		r := e.mlist("merge", "-q", src, dst)
		b.StopTimer()
		if r.ExitCode != 0 {
			b.Fatalf("merge: exit %d\n%s", r.ExitCode, r.Stderr)
		}
		reqs := reg.RequestsSince(mark)
		if got := reg.MustGetManifest(b, repo, f.dstTag).Digest; got == f.dst.Digest || strings.TrimSpace(r.Stdout) != got {
			b.Fatalf("merge printed %q; DESTINATION is %s (was %s)", r.Stdout, got, f.dst.Digest)
		}
		if len(reqs) > mergeRequestBudget {
			b.Errorf("merge made %d registry requests, budget %d:\n%s", len(reqs), mergeRequestBudget, reqs)
		}
		var seen []string
		for _, q := range reqs {
			k := q.Method + " " + q.Path + "?" + q.Query
			if slices.Contains(seen, k) {
				b.Errorf("request repeated: %s\n%s", q, reqs)
			}
			seen = append(seen, k)
		}
		if i == 0 {
			b.Logf("requests of one merge:\n%s", reqs)
		}
		total += len(reqs)
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
}
