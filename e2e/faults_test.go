package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// Issue 9: create+push, merge and copy finish through transient faults
// (429 and 5xx answers, cut blob bodies) injected by the loopback proxy,
// fail cleanly when a registry answers nothing but errors, refuse a source
// that serves corrupt blobs, and resume a copy killed part-way.

// faultSeeds are the fixed seeds every fault test runs with.
var faultSeeds = []uint64{1, 2, 3}

// transientFaults is the fault mix of issue 9: 10% of requests answered
// 429, 500, 502 or 503, and 5% of blob bodies cut.
func transientFaults(seed uint64) proxy.Faults {
	return proxy.Faults{Seed: seed, StatusRate: 0.10, CutRate: 0.05}
}

// failAllStatus is what every request is answered with when a registry only
// fails.
const failAllStatus = http.StatusServiceUnavailable

// startFaultProxy puts a proxy injecting f in front of reg until tb ends,
// and logs what it injected when tb fails.
func startFaultProxy(tb testing.TB, reg *harness.Registry, f proxy.Faults) *proxy.Proxy {
	tb.Helper()
	p, err := proxy.Start(reg.URL, proxy.Options{Faults: f})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("faults injected by the proxy %s:\n%s", p.Host, injectionLog(p.Injected()))
		}
		_ = p.Close()
	})
	return p
}

func injectionLog(is []proxy.Injection) string {
	var b strings.Builder
	for _, i := range is {
		fmt.Fprintf(&b, "    %s\n", i)
	}
	return b.String()
}

// faultRun is what one command made through fault-injecting proxies.
type faultRun struct {
	// err is nil when every command exited 0 and the destination holds the
	// expected result, checked on the registry itself.
	err      error
	requests int // requests the proxies answered, injected faults included
	injected []proxy.Injection
	resumed  int // blob GETs that carried Range: bytes=N- right after a cut at N
}

// resumedReads counts the blob GETs of a log that asked, with Range, for
// the rest of a body cut at the end of the previous GET of the same blob.
func resumedReads(log []proxy.Entry, injected []proxy.Injection) int {
	cutAt := map[string]int64{}
	for _, i := range injected {
		if i.Kind == proxy.KindCut {
			cutAt[i.Path] = i.Bytes
		}
	}
	n := 0
	for _, e := range log {
		if at, ok := cutAt[e.Path]; ok && e.Method == http.MethodGet && e.Range != "" {
			if strings.HasPrefix(e.Range, fmt.Sprintf("bytes=%d-", at)) {
				n++
			}
		}
	}
	return n
}

// faultSeq makes the repositories of the fault runs unique.
var faultSeq atomic.Int64

// faultRepo is a repository name unique to tb and this run.
func faultRepo(tb testing.TB, name string, seed uint64) string {
	return testRepo(tb, fmt.Sprintf("s%d-%d/%s", seed, faultSeq.Add(1), name))
}

// faultCopy is the set-up of a copy through faults: a 4-platform list (2
// layers per image) in src, and a proxy injecting f in front of each
// registry, the destination's with another seed.
type faultCopy struct {
	srcRepo, dstRepo string
	list             harness.List
	ps, pd           *proxy.Proxy
}

func newFaultCopy(tb testing.TB, src, dst *harness.Registry, f proxy.Faults) faultCopy {
	tb.Helper()
	c := faultCopy{srcRepo: faultRepo(tb, "src", f.Seed), dstRepo: faultRepo(tb, "dst", f.Seed)}
	c.list = pushCopySource(tb, src, c.srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, copyPlatforms...)
	dstF := f
	dstF.Seed += 1000
	c.ps, c.pd = startFaultProxy(tb, src, f), startFaultProxy(tb, dst, dstF)
	return c
}

// from and to are the copy's source and destination through the proxies.
func (c faultCopy) from() string { return c.ps.Host + "/" + c.srcRepo + ":v1" }
func (c faultCopy) to() string   { return c.pd.Host + "/" + c.dstRepo + ":v1" }

func (c faultCopy) close() {
	_ = c.ps.Close()
	_ = c.pd.Close()
}

// runCreatePushFaults pushes 4 images into one repository, then creates a
// list of them and pushes it, both commands through one proxy injecting f,
// and checks that the registry holds a list of exactly those images, each
// entry with its blobs. The proxy's counts cover create and push.
func runCreatePushFaults(tb testing.TB, e *env, reg *harness.Registry, f proxy.Faults) faultRun {
	tb.Helper()
	repo := faultRepo(tb, "app", f.Seed)
	imgs := reg.PushImages(tb, repo, "img", harness.ImageOptions{}, copyPlatforms...)
	p := startFaultProxy(tb, reg, f)
	defer p.Close()
	list := p.Host + "/" + repo + ":v1"
	args := []string{"create", list}
	for _, img := range imgs {
		args = append(args, p.Host+"/"+img.Repo+":"+img.Tag)
	}
	run := func() faultRun { return faultRun{requests: p.Count(), injected: p.Injected()} }
	if r := e.mlist(args...); r.ExitCode != 0 {
		out := run()
		out.err = fmt.Errorf("create: exit %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))
		return out
	}
	r := e.mlist("push", list)
	out := run()
	if r.ExitCode != 0 {
		out.err = fmt.Errorf("push: exit %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))
		return out
	}
	want := map[string]string{}
	for _, img := range imgs {
		want[img.Platform.String()] = img.Digest
	}
	out.err = errors.Join(checkListAt(reg, repo, "v1", strings.TrimSpace(r.Stdout), want, nil), sessionsLeftOpen(p.Requests()))
	return out
}

// runMergeFaults merges a 2-platform SOURCE from another registry into a
// 4-platform DESTINATION, each registry behind a proxy injecting f (with
// different seeds), and checks DESTINATION on the registry.
func runMergeFaults(tb testing.TB, e *env, dst, src *harness.Registry, f proxy.Faults) faultRun {
	tb.Helper()
	dstRepo, srcRepo := faultRepo(tb, "app", f.Seed), faultRepo(tb, "ci", f.Seed)
	fx := pushMergeFixture(tb, dst, src, dstRepo, srcRepo, harness.ListOptions{})
	srcF := f
	srcF.Seed += 1000
	pd, ps := startFaultProxy(tb, dst, f), startFaultProxy(tb, src, srcF)
	defer pd.Close()
	defer ps.Close()
	r := e.mlist("merge", ps.Host+"/"+srcRepo+":build", pd.Host+"/"+dstRepo+":v1")
	out := faultRun{requests: pd.Count() + ps.Count(), injected: append(pd.Injected(), ps.Injected()...),
		resumed: resumedReads(ps.Log(), ps.Injected())}
	if r.ExitCode != 0 {
		out.err = fmt.Errorf("merge: exit %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))
		return out
	}
	raws := map[string][]byte{}
	for _, img := range fx.srcImgs {
		raws[img.Digest] = img.Raw
	}
	out.err = errors.Join(checkListAt(dst, dstRepo, "v1", strings.TrimSpace(r.Stdout), fx.standardResult(), raws), sessionsLeftOpen(pd.Requests()))
	return out
}

// runCopyFaults copies a 4-platform list (2 layers per image) between two
// registries, each behind a proxy injecting f (with different seeds), and
// checks that the destination holds the source's list byte for byte with
// every entry and blob.
func runCopyFaults(tb testing.TB, e *env, src, dst *harness.Registry, f proxy.Faults) faultRun {
	tb.Helper()
	fc := newFaultCopy(tb, src, dst, f)
	defer fc.close()
	dstRepo, list, ps, pd := fc.dstRepo, fc.list, fc.ps, fc.pd
	r := e.mlist("copy", fc.from(), fc.to())
	out := faultRun{requests: pd.Count() + ps.Count(), injected: append(ps.Injected(), pd.Injected()...),
		resumed: resumedReads(ps.Log(), ps.Injected())}
	if r.ExitCode != 0 {
		out.err = fmt.Errorf("copy: exit %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))
		return out
	}
	var errs []error
	if got := strings.TrimSpace(r.Stdout); got != list.Digest {
		errs = append(errs, fmt.Errorf("copy printed %q, the source list is %s", got, list.Digest))
	}
	m, err := dst.Client().GetManifest(dstRepo, "v1")
	switch {
	case err != nil:
		errs = append(errs, err)
	case m.Status != http.StatusOK:
		errs = append(errs, fmt.Errorf("%s/%s:v1 answered %d", dst.Host, dstRepo, m.Status))
	case m.Digest != list.Digest || !bytes.Equal(m.Raw, list.Raw):
		errs = append(errs, fmt.Errorf("destination holds %s, want the source's %s byte for byte", m.Digest, list.Digest))
	}
	raws := map[string][]byte{}
	for _, img := range list.Images {
		raws[img.Digest] = img.Raw
	}
	for _, img := range list.Images {
		errs = append(errs, checkEntryAt(dst, dstRepo, img.Digest, raws))
	}
	errs = append(errs, sessionsLeftOpen(pd.Requests()))
	out.err = errors.Join(errs...)
	return out
}

// sessionsLeftOpen reads a destination's request log: every upload session
// the registry opened (POST answered 202) must have been completed (PUT
// answered 201) or cancelled (DELETE answered 204), but for cancels that
// were themselves answered with a fault.
func sessionsLeftOpen(rs harness.Requests) error {
	opened, closed, failedCancels := 0, 0, 0
	for _, r := range rs {
		if !strings.Contains(r.Path, "/blobs/uploads/") {
			continue
		}
		switch {
		case r.Method == http.MethodPost && r.Status == http.StatusAccepted:
			opened++
		case r.Method == http.MethodPut && r.Status == http.StatusCreated,
			r.Method == http.MethodDelete && r.Status == http.StatusNoContent:
			closed++
		case r.Method == http.MethodDelete:
			failedCancels++
		}
	}
	if left := opened - closed; left > failedCancels {
		return fmt.Errorf("%d upload sessions opened, %d completed or cancelled: %d left open:\n%s", opened, closed, left, rs.Filter(func(r harness.Request) bool {
			return strings.Contains(r.Path, "/blobs/uploads/")
		}))
	}
	return nil
}

// checkListAt checks, on the registry itself, that repo:tag is the list
// printed (digest alone on stdout), that it holds exactly the images of want
// (platform -> digest), and that each entry is served with its blobs (and
// with the bytes of raws, where given).
func checkListAt(reg *harness.Registry, repo, tag, printed string, want map[string]string, raws map[string][]byte) error {
	m, err := reg.Client().GetManifest(repo, tag)
	if err != nil {
		return err
	}
	if m.Status != http.StatusOK {
		return fmt.Errorf("%s/%s:%s answered %d", reg.Host, repo, tag, m.Status)
	}
	var errs []error
	if printed != m.Digest {
		errs = append(errs, fmt.Errorf("printed %q, the tag is %s", printed, m.Digest))
	}
	ix, err := m.Index()
	if err != nil {
		return err
	}
	got := mergeImages(ix)
	if len(ix.Images()) != len(want) {
		errs = append(errs, fmt.Errorf("the list has %d images (%v), want %d", len(ix.Images()), ix.Platforms(), len(want)))
	}
	for p, d := range want {
		if got[p] != d {
			errs = append(errs, fmt.Errorf("entry for %s is %q, want %s", p, got[p], d))
		}
	}
	for _, d := range ix.Manifests {
		if d.Size <= 0 {
			errs = append(errs, fmt.Errorf("entry %s has size %d", d.Digest, d.Size))
		}
		errs = append(errs, checkEntryAt(reg, repo, d.Digest, raws))
	}
	return errors.Join(errs...)
}

// checkEntryAt checks that repo serves manifest dg (with the bytes of raws,
// where given) and every blob it names.
func checkEntryAt(reg *harness.Registry, repo, dg string, raws map[string][]byte) error {
	c := reg.Client()
	m, err := c.GetManifest(repo, dg)
	if err != nil {
		return err
	}
	if m.Status != http.StatusOK {
		return fmt.Errorf("entry %s: %s/%s@%s answered %d", dg, reg.Host, repo, dg, m.Status)
	}
	if harness.Digest(m.Raw) != dg {
		return fmt.Errorf("entry %s: served bytes hash to %s", dg, harness.Digest(m.Raw))
	}
	if raw, ok := raws[dg]; ok && !bytes.Equal(raw, m.Raw) {
		return fmt.Errorf("entry %s: other bytes than the source's", dg)
	}
	im, err := m.ImageManifest()
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range append([]harness.Descriptor{im.Config}, im.Layers...) {
		ok, err := c.BlobExists(repo, b.Digest)
		if err != nil {
			errs = append(errs, err)
		} else if !ok {
			errs = append(errs, fmt.Errorf("entry %s: blob %s missing from %s/%s", dg, b.Digest, reg.Host, repo))
		}
	}
	return errors.Join(errs...)
}

// TestFaultsTransient: with 10% of requests answered 429/500/502/503 and 5%
// of blob bodies cut, create+push, merge and cross-registry copy of a
// 4-platform list each end with the source's digests and every entry at the
// destination, for every seed.
func TestFaultsTransient(t *testing.T) {
	reg, other := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	cases := []struct {
		name string
		run  func(t *testing.T, f proxy.Faults) faultRun
	}{
		{"create+push", func(t *testing.T, f proxy.Faults) faultRun { return runCreatePushFaults(t, e, reg, f) }},
		{"merge", func(t *testing.T, f proxy.Faults) faultRun { return runMergeFaults(t, e, reg, other, f) }},
		{"copy", func(t *testing.T, f proxy.Faults) faultRun { return runCopyFaults(t, e, reg, other, f) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			injected := 0
			for _, seed := range faultSeeds {
				t.Run("seed "+strconv.FormatUint(seed, 10), func(t *testing.T) {
					r := c.run(t, transientFaults(seed))
					injected += len(r.injected)
					t.Logf("%d requests, %d faults injected:\n%s", r.requests, len(r.injected), injectionLog(r.injected))
					if r.err != nil {
						t.Errorf("%s through faults (seed %d): %v", c.name, seed, r.err)
					}
				})
			}
			if injected == 0 {
				t.Errorf("the seeds %v injected no fault into %s: the test proves nothing; choose other seeds", faultSeeds, c.name)
			}
		})
	}
}

// TestFaultsFirstTry: the same commands when every distinct request is
// answered 502 the first time (so every manifest, tag and blob write must be
// tried again), and when every blob body is cut the first time it is read.
func TestFaultsFirstTry(t *testing.T) {
	reg, other := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		faults proxy.Faults
		run    func(t *testing.T, f proxy.Faults) faultRun
	}{
		{"create+push/502 once", proxy.Faults{FailFirst: http.StatusBadGateway}, func(t *testing.T, f proxy.Faults) faultRun { return runCreatePushFaults(t, e, reg, f) }},
		{"merge/502 once", proxy.Faults{FailFirst: http.StatusBadGateway}, func(t *testing.T, f proxy.Faults) faultRun { return runMergeFaults(t, e, reg, other, f) }},
		{"copy/502 once", proxy.Faults{FailFirst: http.StatusBadGateway}, func(t *testing.T, f proxy.Faults) faultRun { return runCopyFaults(t, e, reg, other, f) }},
		{"merge/bodies cut once", proxy.Faults{CutFirst: true}, func(t *testing.T, f proxy.Faults) faultRun { return runMergeFaults(t, e, reg, other, f) }},
		{"copy/bodies cut once", proxy.Faults{CutFirst: true}, func(t *testing.T, f proxy.Faults) faultRun { return runCopyFaults(t, e, reg, other, f) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run(t, tc.faults)
			t.Logf("%d requests, %d faults injected:\n%s", r.requests, len(r.injected), injectionLog(r.injected))
			if r.err != nil {
				t.Errorf("%s: %v", tc.name, r.err)
			}
			kinds := map[string]int{}
			for _, i := range r.injected {
				kinds[i.Kind]++
			}
			if tc.faults.CutFirst && kinds[proxy.KindCut] == 0 || tc.faults.FailFirst != 0 && kinds[proxy.KindStatus] == 0 {
				t.Errorf("nothing injected: %v", kinds)
			}
			// docker-registry serves Range requests: a cut read goes on
			// from where it stopped rather than from the start.
			if tc.faults.CutFirst && r.resumed != kinds[proxy.KindCut] {
				t.Errorf("%d of %d cut blob bodies were read on with Range: bytes=<cut>-", r.resumed, kinds[proxy.KindCut])
			}
		})
	}
}

// statusRE matches the failing status as a number of its own (not inside a
// port number).
var statusRE = regexp.MustCompile(`(^|[^0-9])` + strconv.Itoa(failAllStatus) + `([^0-9]|$)`)

// failsNamingStatus runs `docker mlist args...` and fails t unless it exits
// non-zero with one line on stderr that names the failing proxy's host and
// failAllStatus, after trying again at least once and not endlessly.
func failsNamingStatus(t *testing.T, e *env, failing *proxy.Proxy, args ...string) {
	t.Helper()
	failing.Reset()
	r := failsOneLine(t, e, []string{failing.Host}, args...)
	if !statusRE.MatchString(r.Stderr) {
		t.Errorf("docker mlist %s: stderr does not name the status %d:\n%s", strings.Join(args, " "), failAllStatus, r.Stderr)
	}
	if n := failing.Count(); n < 2 || n > maxFailingRequests {
		t.Errorf("the failing registry got %d requests, want a retry and at most %d:\n%s", n, maxFailingRequests, failing.Requests())
	}
}

// maxFailingRequests bounds the requests a command may send to a registry
// that fails them all: a budget, not a loop.
const maxFailingRequests = 64

// TestFaultsEveryRequestFails: when a registry answers every request with
// 503, each command gives up within its retry budget with one line naming
// the registry and the status, and leaves the destination as it was.
func TestFaultsEveryRequestFails(t *testing.T) {
	reg, other := plainRegistry(t), copyDestRegistry(t)
	failing := proxy.Faults{FailAll: failAllStatus}

	t.Run("create", func(t *testing.T) {
		e := newEnv(t)
		repo := testRepo(t, "app")
		img := reg.PushImage(t, repo, "amd64", "linux/amd64", harness.ImageOptions{})
		p := startFaultProxy(t, reg, failing)
		failsNamingStatus(t, e, p, "create", p.Host+"/"+repo+":v1", p.Host+"/"+repo+":"+img.Tag)
		if files := draftFileNames(t, e); len(files) > 0 {
			t.Errorf("a failed create left drafts: %v", files)
		}
	})

	t.Run("push", func(t *testing.T) {
		e := newEnv(t)
		repo := testRepo(t, "app")
		imgs := reg.PushImages(t, testRepo(t, "src"), "img", harness.ImageOptions{}, copyPlatforms...)
		p := startFaultProxy(t, reg, proxy.Faults{})
		args := []string{"create", p.Host + "/" + repo + ":v1"}
		for _, img := range imgs {
			args = append(args, p.Host+"/"+img.Repo+":"+img.Tag)
		}
		e.mustMlist(t, args...)
		before := draftFiles(t, e)
		p.SetFaults(failing)
		failsNamingStatus(t, e, p, "push", p.Host+"/"+repo+":v1")
		if got := reg.GetManifest(t, repo, "v1"); got.Status != http.StatusNotFound {
			t.Errorf("%s:v1 answered %d after a failed push, want 404", repo, got.Status)
		}
		for _, img := range imgs {
			if got := reg.GetManifest(t, repo, img.Digest); got.Status != http.StatusNotFound {
				t.Errorf("entry %s in %s after a push that never got through", img.Digest, repo)
			}
		}
		assertDraftsUnchanged(t, e, before)
	})

	t.Run("merge", func(t *testing.T) {
		e := newEnv(t)
		dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
		f := pushMergeFixture(t, reg, other, dstRepo, srcRepo, harness.ListOptions{})
		pd, ps := startFaultProxy(t, reg, failing), startFaultProxy(t, other, proxy.Faults{})
		failsNamingStatus(t, e, pd, "merge", ps.Host+"/"+srcRepo+":build", pd.Host+"/"+dstRepo+":v1")
		if got := reg.MustGetManifest(t, dstRepo, "v1"); got.Digest != f.dst.Digest {
			t.Errorf("DESTINATION is %s after a failed merge, was %s", got.Digest, f.dst.Digest)
		}
	})

	for _, side := range []string{"both", "destination"} {
		t.Run("copy/"+side+" failing", func(t *testing.T) {
			e := newEnv(t)
			srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
			pushCopySource(t, reg, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, copyPlatforms...)
			srcF := failing
			if side == "destination" {
				srcF = proxy.Faults{}
			}
			ps, pd := startFaultProxy(t, reg, srcF), startFaultProxy(t, other, failing)
			// The destination tag is read first (a missing one lets the
			// source be read by tag with one GET), so it is named either way.
			failsNamingStatus(t, e, pd, "copy", ps.Host+"/"+srcRepo+":v1", pd.Host+"/"+dstRepo+":v1")
			if tags := other.Tags(t, dstRepo); tags != nil {
				t.Errorf("destination has tags %v after a failed copy", tags)
			}
		})
	}
}

// blobDigestRE finds a sha256 digest, also URL-encoded (an upload's
// ?digest=), and captures its hex.
var blobDigestRE = regexp.MustCompile(`sha256(?::|%3A)([a-f0-9]{64})`)

// TestFaultsUploadsAlwaysFail: when a destination opens upload sessions
// but answers every blob sent into one with 503, a copy gives up within the
// retry policy: the blob it names got exactly 4 upload sessions (one per
// attempt, each tried once), no blob more, and the command fails with one
// line naming the attempts and the status, leaving no tag.
func TestFaultsUploadsAlwaysFail(t *testing.T) {
	const attempts = 4 // registry.DefaultRetryAttempts
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, copyPlatforms...)
	pd := startFaultProxy(t, dst, proxy.Faults{FailUploads: failAllStatus})
	r := failsOneLine(t, e, []string{fmt.Sprintf("%d attempts failed", attempts), strconv.Itoa(failAllStatus)},
		"copy", src.Host+"/"+srcRepo+":v1", pd.Host+"/"+dstRepo+":v1")
	if err := pd.WaitIdle(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	hexOf := func(s string) string {
		if m := blobDigestRE.FindStringSubmatch(s); m != nil {
			return m[1]
		}
		return ""
	}
	named := hexOf(r.Stderr)
	puts := map[string]int{}
	posts := 0
	for _, q := range pd.Requests() {
		if !strings.Contains(q.Path, "/blobs/uploads/") {
			continue
		}
		switch q.Method {
		case http.MethodPost:
			posts++
		case http.MethodPut:
			puts[hexOf(q.Query)]++
		}
	}
	if puts[named] != attempts {
		t.Errorf("blob %s named in the error got %d upload PUTs, want %d:\n%s", named, puts[named], attempts, pd.Requests())
	}
	for d, n := range puts {
		if n > attempts {
			t.Errorf("blob %s got %d upload PUTs, more than the policy's %d attempts", d, n, attempts)
		}
	}
	if posts > attempts*len(puts) {
		t.Errorf("%d upload sessions opened for %d blobs, more than %d each", posts, len(puts), attempts)
	}
	if err := sessionsLeftOpen(pd.Requests()); err != nil {
		t.Error(err)
	}
	if tags := dst.Tags(t, dstRepo); tags != nil {
		t.Errorf("destination has tags %v after a failed copy", tags)
	}
}

// TestFaultsCorruptSource: a source registry serves one layer with a byte
// flipped. A copy to a registry and to each local transport fails naming the
// blob, and leaves nothing tagged, indexed or archived.
func TestFaultsCorruptSource(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo := testRepo(t, "src")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true, Layers: 2}, harness.ListOptions{OCI: true}, copyPlatforms...)
	bad := list.Images[0].Layers[1].Digest // linux/amd64's second layer
	p := startFaultProxy(t, src, proxy.Faults{Corrupt: []string{bad}})
	from := p.Host + "/" + srcRepo + ":v1"
	e := newEnv(t)

	// failsNamingBlob runs the copy, which must fail naming the bad blob and
	// print nothing on stdout, after the proxy served it corrupted.
	failsNamingBlob := func(t *testing.T, args ...string) {
		t.Helper()
		p.Reset()
		r := e.mlist(append([]string{"copy"}, args...)...)
		if r.ExitCode == 0 {
			t.Fatalf("copy of a corrupt source succeeded; stdout %q", r.Stdout)
		}
		for _, want := range []string{bad, p.Host} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("stderr does not name the corrupt blob %s and its source %s:\n%s", bad, p.Host, r.Stderr)
				break
			}
		}
		if r.Stdout != "" {
			t.Errorf("a failed copy printed %q on stdout", r.Stdout)
		}
		if p.InjectedCount(proxy.KindCorrupt) == 0 {
			t.Errorf("the corrupt blob was never read through the proxy:\n%s", p.Requests())
		}
	}

	t.Run("registry", func(t *testing.T) {
		repo := testRepo(t, "dst")
		failsNamingBlob(t, from, dst.Ref(repo+":v1"))
		if tags := dst.Tags(t, repo); slices.Contains(tags, "v1") {
			t.Errorf("destination tags %v after a failed copy", tags)
		}
		if got := dst.GetManifest(t, repo, list.Images[0].Digest); got.Status == http.StatusOK {
			t.Errorf("the image with the corrupt layer was written to the destination")
		}
		if dst.BlobExists(t, repo, bad) {
			b, err := dst.Client().GetBlob(repo, bad)
			if err == nil && harness.Digest(b) != bad {
				t.Errorf("the destination holds corrupt bytes under %s", bad)
			}
		}
	})

	t.Run("oci layout", func(t *testing.T) {
		// A layout that already holds another list: it must keep it.
		otherRepo := testRepo(t, "other")
		pushCopySource(t, src, otherRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, "linux/amd64")
		layout := filepath.Join(t.TempDir(), "layout")
		mustCopy(t, e, src.Ref(otherRepo+":v1"), "oci:"+layout+":good")
		failsNamingBlob(t, from, "oci:"+layout+":v1")
		names := layoutRefNames(t, layout)
		if slices.Contains(names, "v1") || !slices.Contains(names, "good") {
			t.Errorf("index.json names %v after a failed copy, want just good", names)
		}
		checkLayoutBlobs(t, layout)
	})

	for _, tc := range []struct{ name, transport string }{
		{"oci-archive", "oci-archive"},
		{"docker-archive", "docker-archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "app.tar")
			args := []string{from, tc.transport + ":" + archive + ":v1"}
			if tc.transport == "docker-archive" {
				args = append([]string{"--platform", "linux/amd64"}, args...)
			}
			failsNamingBlob(t, args...)
			if _, err := os.Stat(archive); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left after a failed copy (stat: %v)", archive, err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(archive), "*")); len(left) > 0 {
				t.Errorf("files left beside the archive: %v", left)
			}
		})
	}
}

// layoutRefNames returns the org.opencontainers.image.ref.name of every
// entry of an OCI layout's index.json (none when there is no index.json).
func layoutRefNames(t *testing.T, layout string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ix harness.Index
	if err := json.Unmarshal(data, &ix); err != nil {
		t.Fatalf("index.json: %v\n%s", err, data)
	}
	var names []string
	for _, d := range ix.Manifests {
		names = append(names, d.Annotations["org.opencontainers.image.ref.name"])
	}
	return names
}

// checkLayoutBlobs fails t if a blob file of the layout does not hash to its
// name: corrupt bytes filed under the good digest.
func checkLayoutBlobs(t *testing.T, layout string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != filepath.Base(f) {
			t.Errorf("layout blob %s holds bytes hashing to sha256:%x", filepath.Base(f), sum)
		}
	}
}

// TestFaultsKilledCopy: `docker mlist copy` is killed (SIGKILL, plugin and
// docker CLI alike) after some blobs reached the destination; the same copy
// run again completes, uploads only the blobs still missing, and the tag is
// put only once every entry and blob is at the destination.
func TestFaultsKilledCopy(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{Layers: 2}, harness.ListOptions{}, copyPlatforms...)
	var blobs []string
	for _, img := range list.Images {
		blobs = append(blobs, img.Config.Digest)
		for _, l := range img.Layers {
			blobs = append(blobs, l.Digest)
		}
	}
	// The first killAfter blob uploads go through; the next one to arrive
	// waits for them to complete, then kills the copy. From the kill until
	// the second run, no request reaches the registry, as if the network
	// died with the process.
	const killAfter = 4
	e := newEnv(t)

	var (
		mu         sync.Mutex
		cmd        *exec.Cmd
		admitted   int      // blob upload PUTs let through in the first run
		killed     bool     // the first run was killed
		blocked    bool     // from the kill until the second run
		incomplete []string // what was missing when a tag PUT arrived
		p          *proxy.Proxy
	)
	tagPath := "/v2/" + dstRepo + "/manifests/v1"
	isUpload := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
	}
	p, err := proxy.Start(dst.URL, proxy.Options{Delay: 50 * time.Millisecond, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Path == tagPath {
			if missing := missingAt(dst, dstRepo, list, blobs); len(missing) > 0 {
				mu.Lock()
				incomplete = append(incomplete, missing...)
				mu.Unlock()
			}
		}
		mu.Lock()
		first, wasBlocked := cmd != nil && !killed, blocked
		if wasBlocked || (first && isUpload(r) && admitted >= killAfter) {
			mu.Unlock()
			if !wasBlocked {
				// Let the admitted uploads complete, then kill (once).
				for deadline := time.Now().Add(30 * time.Second); uploadsDone(p.Requests(), dstRepo) < killAfter && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				mu.Lock()
				if !killed {
					killed, blocked = true, true
					killTree(t, cmd.Process.Pid)
				}
				mu.Unlock()
			}
			http.Error(w, "killed", http.StatusServiceUnavailable)
			return true
		}
		if first && isUpload(r) {
			admitted++
		}
		mu.Unlock()
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	args := []string{"mlist", "copy", src.Ref(srcRepo + ":v1"), p.Host + "/" + dstRepo + ":v1"}

	// First run, killed part-way.
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "docker", args...)
	c.Env = e.environ()
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	mu.Lock()
	if err := c.Start(); err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	cmd = c
	mu.Unlock()
	werr := c.Wait()
	t.Logf("$ docker %s  # %v\n%s", strings.Join(args, " "), werr, indent(out.String()))
	mu.Lock()
	wasKilled := killed
	mu.Unlock()
	if !wasKilled {
		t.Fatalf("the copy ended (%v) before %d blob uploads went through; nothing was killed:\n%s", werr, killAfter, p.Requests())
	}
	waitIdle(t, p)
	first := p.Log()
	if n := countTagPuts(first, tagPath); n > 0 {
		t.Errorf("the killed copy put the tag %d times before it was killed", n)
	}
	if got := dst.GetManifest(t, dstRepo, "v1"); got.Status != http.StatusNotFound {
		t.Errorf("after the kill %s:v1 answered %d, want 404", dstRepo, got.Status)
	}
	present := 0
	for _, b := range blobs {
		if dst.BlobExists(t, dstRepo, b) {
			present++
		}
	}
	missing := len(blobs) - present
	t.Logf("after the kill: %d of %d blobs at the destination", present, len(blobs))
	if present == 0 || missing == 0 {
		t.Fatalf("the kill left %d of %d blobs: cannot tell a resumed copy from a full one", present, len(blobs))
	}

	// Second run, to the end.
	mu.Lock()
	blocked = false
	mu.Unlock()
	p.Reset()
	d := mustCopy(t, e, args[2:]...)
	if d != list.Digest {
		t.Errorf("the second copy printed %s, want %s", d, list.Digest)
	}
	m, ix := dst.MustGetIndex(t, dstRepo, "v1")
	if m.Digest != list.Digest || !bytes.Equal(m.Raw, list.Raw) {
		t.Errorf("destination holds %s, want the source's %s byte for byte", m.Digest, list.Digest)
	}
	checkCopied(t, src, srcRepo, dst, dstRepo, ix)
	second := p.Log()
	if n := uploadsDone(p.Requests(), dstRepo); n != missing {
		t.Errorf("the second copy uploaded %d blobs; %d of %d were missing:\n%s", n, missing, len(blobs), p.Requests())
	}

	mu.Lock()
	defer mu.Unlock()
	if len(incomplete) > 0 {
		t.Errorf("the tag was put while the destination lacked %v", incomplete)
	}
	if n := countTagPuts(second, tagPath); n != 1 {
		t.Errorf("the second copy put the tag %d times, want once", n)
	}
	// Every other write had been answered before the tag PUT began.
	for _, tp := range second {
		if tp.Method != http.MethodPut || tp.Path != tagPath {
			continue
		}
		for _, w := range second {
			if w.Path != tagPath && w.Method != http.MethodGet && w.Method != http.MethodHead && w.End > tp.Start {
				t.Errorf("%s was still in flight when the tag PUT began", w.Request)
			}
		}
	}
}

// uploadsDone counts the blob uploads into repo the registry completed.
func uploadsDone(rs harness.Requests, repo string) int {
	return len(rs.ForRepo(repo).Filter(func(r harness.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.Path, "/blobs/uploads/") && r.Status == http.StatusCreated
	}))
}

func countTagPuts(log []proxy.Entry, tagPath string) int {
	n := 0
	for _, e := range log {
		if e.Method == http.MethodPut && e.Path == tagPath {
			n++
		}
	}
	return n
}

// missingAt lists what of list (entries and blobs) repo lacks, asked of the
// registry directly.
func missingAt(reg *harness.Registry, repo string, list harness.List, blobs []string) []string {
	c := reg.Client()
	var missing []string
	for _, img := range list.Images {
		if m, err := c.HeadManifest(repo, img.Digest); err != nil || m.Status != http.StatusOK {
			missing = append(missing, img.Digest)
		}
	}
	for _, b := range blobs {
		if ok, err := c.BlobExists(repo, b); err != nil || !ok {
			missing = append(missing, b)
		}
	}
	return missing
}

// killTree sends SIGKILL to the process group of pid (which the test made
// its own group) and to every descendant of pid, in case the docker CLI put
// its plugin in a group of its own.
func killTree(t *testing.T, pid int) {
	below := descendants(pid)
	if len(below) == 0 {
		t.Errorf("docker (pid %d) runs no plugin process to kill", pid)
	}
	groups := map[int]bool{pid: true}
	for _, d := range below {
		if pgid, err := syscall.Getpgid(d); err == nil {
			groups[pgid] = true
		}
	}
	for g := range groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	for _, d := range below {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
}

// descendants returns the pids below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		data, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(data[bytes.LastIndexByte(data, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		children[ppid] = append(children[ppid], child)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// waitIdle waits until the proxy has answered every request it began, so
// what a killed client left in flight has reached the registry or failed.
func waitIdle(t *testing.T, p *proxy.Proxy) {
	t.Helper()
	if err := p.WaitIdle(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}
