package e2e

import (
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// BenchmarkMergeSameRepo merges a 2-platform SOURCE into a 4-platform
// DESTINATION of the same repository with the real `docker mlist merge`,
// through a proxy adding 20 ms per request, and reports the registry
// requests each merge made (requests/op). It fails when a merge makes more
// than README's mergeRequests (read SOURCE, read DESTINATION, check
// DESTINATION, put; the first request also settles the scheme and
// authentication, so there is no /v2/ ping) or repeats one.
func BenchmarkMergeSameRepo(b *testing.B) {
	reg := startRegistry(b, harness.RegistryOptions{})
	p := startCountingProxy(b, reg, benchDelay)
	f := pushMergeFixture(b, reg, reg, "bench/app", "bench/app", harness.ListOptions{})
	e := newEnv(b)

	var total int
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		_, reqs := mergeThrough(b, e, p, f)
		if len(reqs) > mergeRequests {
			b.Errorf("merge made %d registry requests, README says %d:\n%s", len(reqs), mergeRequests, reqs)
		}
		if i == 0 {
			b.Logf("requests of one merge:\n%s", reqs)
		}
		total += len(reqs)
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
}
