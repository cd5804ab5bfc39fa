package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// repeatedGraph is an index graph whose lists repeat their entries: list 1
// names images A and B, repeat times each; list k (k > 1) names list k-1
// and image A, repeat times each. The top is the last list.
type repeatedGraph struct {
	top       digest.Digest
	images    []imgspecv1.Descriptor // A, B
	lists     []digest.Digest        // list 1 first
	blobs     []digest.Digest        // configs and layers of A and B
	manifests []digest.Digest        // every distinct manifest
}

func pushRepeatedGraph(t *testing.T, s *registrystub.Stub, repo, tag string, levels, repeat int) repeatedGraph {
	t.Helper()
	g := repeatedGraph{images: []imgspecv1.Descriptor{
		mlPushImage(s, repo, "linux/amd64", "a"), mlPushImage(s, repo, "linux/arm64", "b"),
	}}
	for _, img := range g.images {
		raw, _ := s.Manifest(repo, img.Digest.String())
		p, err := manifestlist.Parse(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Blobs {
			g.blobs = append(g.blobs, b.Digest)
		}
		g.manifests = append(g.manifests, img.Digest)
	}
	below := g.images[1]
	for k := 1; k <= levels; k++ {
		ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{}}
		ix.SchemaVersion = 2
		for range repeat {
			ix.Manifests = append(ix.Manifests, g.images[0], below)
		}
		raw, err := json.Marshal(ix)
		if err != nil {
			t.Fatal(err)
		}
		at := ""
		if k == levels {
			at = tag
		}
		d := digest.Digest(s.PutManifest(repo, at, imgspecv1.MediaTypeImageIndex, raw))
		g.lists = append(g.lists, d)
		g.manifests = append(g.manifests, d)
		below = imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: d, Size: int64(len(raw))}
	}
	g.top = g.lists[len(g.lists)-1]
	return g
}

// checkCounts fails for each digest that did not see exactly want
// requests of method on path prefix (e.g. "/v2/app/manifests/") or query
// parameter ("mount=").
func checkCounts(t *testing.T, s *registrystub.Stub, method, prefix string, digests []digest.Digest, want int) {
	t.Helper()
	for _, d := range digests {
		at := prefix + d.String()
		if strings.HasSuffix(prefix, "=") {
			at = prefix + url.QueryEscape(d.String())
		}
		if n := s.Count(method, at); n != want {
			t.Errorf("%d %s %s%s, want %d", n, method, prefix, d, want)
		}
	}
}

// checkEntriesFirst fails t unless each list of g was put to repo after
// its entries (a registry refuses a list whose entries it lacks).
func checkEntriesFirst(t *testing.T, s *registrystub.Stub, repo string, g repeatedGraph) {
	t.Helper()
	at := map[string]int{}
	for i, r := range s.Requests() {
		if _, seen := at[r]; !seen {
			at[r] = i
		}
	}
	put := func(d digest.Digest) int {
		i, ok := at["PUT /v2/"+repo+"/manifests/"+d.String()]
		if !ok {
			t.Errorf("%s never put", d)
		}
		return i
	}
	below := g.images[1].Digest
	for k, l := range g.lists {
		if l == g.top {
			break // put under its tag
		}
		if put(l) < put(g.images[0].Digest) || put(l) < put(below) {
			t.Errorf("list %d put before its entries", k+1)
		}
		below = l
	}
}

// TestRepeatedGraphCopy: a copy of a 3-level index whose levels repeat the
// same entries 100 times reads each distinct manifest once, writes each
// once, and asks for each blob once; a copy into a repository that holds
// part of it looks each distinct manifest up once.
func TestRepeatedGraphCopy(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "src", "v1", 3, 100)
	res, err := Copy(context.Background(), Endpoint{Client: mlClient(s), Repository: "src"}, "v1", Endpoint{Client: mlClient(s), Repository: "dst"}, "v1", Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != g.top {
		t.Fatalf("copied %s, want %s", res.Digest, g.top)
	}
	below := g.manifests[:len(g.manifests)-1]
	checkCounts(t, s, "GET", "/v2/src/manifests/", below, 1)
	checkCounts(t, s, "PUT", "/v2/dst/manifests/", below, 1)
	checkCounts(t, s, "POST", "mount=", g.blobs, 1)
	if n := s.Count("GET", "/v2/src/manifests/"); n != len(g.manifests) {
		t.Errorf("%d manifest GETs, want %d (the top by tag, then each distinct manifest)", n, len(g.manifests))
	}
	if n := s.Count("PUT", "/v2/dst/manifests/"); n != len(g.manifests) {
		t.Errorf("%d manifest PUTs, want %d", n, len(g.manifests))
	}

	// Into a repository that holds image A under a tag: each manifest is
	// looked up there once; A is not written again.
	a := g.images[0]
	raw, _ := s.Manifest("src", a.Digest.String())
	s.PutManifest("partial", "a", a.MediaType, raw)
	if _, err := Copy(context.Background(), Endpoint{Client: mlClient(s), Repository: "src"}, g.top.String(), Endpoint{Client: mlClient(s), Repository: "partial"}, "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "HEAD", "/v2/partial/manifests/", g.manifests, 1)
	checkCounts(t, s, "PUT", "/v2/partial/manifests/", []digest.Digest{a.Digest}, 0)
	checkCounts(t, s, "PUT", "/v2/partial/manifests/", append([]digest.Digest{g.images[1].Digest}, g.lists[:len(g.lists)-1]...), 1)
}

// TestDeepestRepeatedGraphCopies: lists nested as deep as accepted, each
// naming the one below and an image 100 times, copy and dry-run with one
// read per distinct manifest (walked per path, they would never end).
func TestDeepestRepeatedGraphCopies(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "src", "v1", maxNesting, 100)
	other := registrystub.Start(t, registrystub.Options{})
	res, err := Copy(context.Background(), Endpoint{Client: mlClient(s), Repository: "src"}, "v1", Endpoint{Client: mlClient(other), Repository: "dst"}, "v1", Options{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Manifests) != len(g.manifests) || len(res.Plan.Blobs) != len(g.blobs) {
		t.Errorf("plan of %d manifests and %d blobs, want %d and %d", len(res.Plan.Manifests), len(res.Plan.Blobs), len(g.manifests), len(g.blobs))
	}
	// The dry run asks the other registry for each blob once, writes nothing.
	checkCounts(t, other, "HEAD", "/v2/dst/blobs/", g.blobs, 1)
	if n := other.Count("PUT", "") + other.Count("POST", ""); n != 0 {
		t.Errorf("the dry run wrote: %d PUTs and POSTs", n)
	}
	if _, err := Copy(context.Background(), Endpoint{Client: mlClient(s), Repository: "src"}, "v1", Endpoint{Client: mlClient(other), Repository: "dst"}, "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "GET", "/v2/src/manifests/", g.manifests[:len(g.manifests)-1], 2) // the dry run's read and the copy's
	checkCounts(t, s, "GET", "/v2/src/blobs/", g.blobs, 1)
	checkCounts(t, other, "PUT", "/v2/dst/manifests/", g.manifests[:len(g.manifests)-1], 1)
}

// TestRepeatedGraphTransfer: Transfer (push and merge bring entries with
// it) reads, looks up and writes each distinct manifest once, and asks for
// each blob once, however often the graph repeats them; several entries
// sharing a graph are one graph.
func TestRepeatedGraphTransfer(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "src", "v1", 3, 100)
	s.PutManifest("dst", "other", g.images[1].MediaType, []byte(`{"schemaVersion":2}`)) // an existing repository: manifests are looked up
	src, dst := Endpoint{Client: mlClient(s), Repository: "src"}, Endpoint{Client: mlClient(s), Repository: "dst"}
	stats := &Stats{}
	// The top and, as a second entry, a list inside it.
	err := transfer(context.Background(), src, dst, stats, Manifest{Digest: g.top}, Manifest{Digest: g.lists[0]})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "HEAD", "/v2/dst/manifests/", g.manifests, 1)
	checkCounts(t, s, "GET", "/v2/src/manifests/", g.manifests, 1)
	checkCounts(t, s, "PUT", "/v2/dst/manifests/", g.manifests, 1)
	checkCounts(t, s, "POST", "mount=", g.blobs, 1)
	checkEntriesFirst(t, s, "dst", g)
	if c, _ := stats.Snapshot(); c.Manifests != len(g.manifests) || c.Present != 0 {
		t.Errorf("stats %+v, want %d manifests written", c, len(g.manifests))
	}
	// Again: the top is there, so nothing below it is looked at.
	before := len(s.Requests())
	if err := transfer(context.Background(), src, dst, nil, Manifest{Digest: g.top}); err != nil {
		t.Fatal(err)
	}
	if reqs := s.Requests()[before:]; len(reqs) != 1 || reqs[0] != "HEAD /v2/dst/manifests/"+g.top.String() {
		t.Errorf("a transfer of what is there made %v, want the top's HEAD only", reqs)
	}
}

// TestRepeatedGraphMerge: a merge whose SOURCE repeats a nested index and
// an image 100 times brings each distinct manifest and blob once.
func TestRepeatedGraphMerge(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "ci", "build", 3, 100)
	mlPushList(s, "app", "v1", mlPushImage(s, "app", "linux/s390x", "old"))
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	req.Stats = &Stats{}
	res, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written {
		t.Fatalf("nothing written: %+v", res.Plan)
	}
	below := g.manifests[:len(g.manifests)-1] // the merge writes its own list
	checkCounts(t, s, "GET", "/v2/ci/manifests/", below, 1)
	checkCounts(t, s, "HEAD", "/v2/app/manifests/", below, 1)
	checkCounts(t, s, "PUT", "/v2/app/manifests/", below, 1)
	checkCounts(t, s, "POST", "mount=", g.blobs, 1)
	// The merged list and what is below SOURCE's, each once.
	if n := countActions(res.Plan.Manifests, actionPut); n != len(below)+1 {
		t.Errorf("plan puts %d manifests, want %d: %+v", n, len(below)+1, res.Plan.Manifests)
	}
}

// TestRepeatedEntriesVerify: verify reads each distinct entry, config and
// (deep) layer once however often the list repeats it.
func TestRepeatedEntriesVerify(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "app", "v1", 1, 100)
	r, err := Verify(context.Background(), Endpoint{Client: mlClient(s), Repository: "app"}, "v1", VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries != 200 {
		t.Errorf("%d entries verified, want 200", r.Entries)
	}
	for _, p := range r.Problems {
		if p.Kind != ProblemDuplicate {
			t.Errorf("problem %s", p)
		}
	}
	checkCounts(t, s, "GET", "/v2/app/manifests/", g.manifests[:2], 1)
	var configs, layers []digest.Digest
	for i, b := range g.blobs {
		if i%2 == 0 {
			configs = append(configs, b)
		} else {
			layers = append(layers, b)
		}
	}
	checkCounts(t, s, "GET", "/v2/app/blobs/", configs, 1)
	checkCounts(t, s, "HEAD", "/v2/app/blobs/", layers, 1)
}

// TestTooDeepGraphRefused: one level of lists more than accepted fails
// every walk with ErrTooDeep, naming the top, and writes nothing.
func TestTooDeepGraphRefused(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "src", "v1", maxNesting+1, 3)
	src, dst := Endpoint{Client: mlClient(s), Repository: "src"}, Endpoint{Client: mlClient(s), Repository: "dst"}
	check := func(what string, top digest.Digest, err error) {
		t.Helper()
		if !errors.Is(err, ErrTooDeep) {
			t.Fatalf("%s: error %v, want ErrTooDeep", what, err)
		}
		want := fmt.Sprintf("lists nested more than %d deep", maxNesting)
		if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, top.String()) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming %s and saying %q", what, msg, top, want)
		}
	}
	_, err := Copy(context.Background(), src, "v1", dst, "v1", Options{}, nil)
	check("copy", g.top, err)
	_, err = Copy(context.Background(), src, "v1", dst, "v1", Options{DryRun: true}, nil)
	check("dry run", g.top, err)
	check("transfer", g.top, transfer(context.Background(), src, dst, nil, Manifest{Digest: g.top}))
	if n := s.Count("PUT", "/v2/dst/") + s.Count("POST", "/v2/dst/"); n != 0 {
		t.Errorf("%d writes to dst, want none", n)
	}
	// The top minus one level is accepted.
	if err := transfer(context.Background(), src, dst, nil, Manifest{Digest: g.lists[len(g.lists)-2]}); err != nil {
		t.Errorf("a graph %d deep: %v", maxNesting, err)
	}

	// A top naming the deepest list accepted and, directly, the list at
	// its bottom: that list is reached first one level down, yet its
	// longest path is one level too many.
	ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{
		listDescriptor(t, s, "src", g.lists[len(g.lists)-2]), listDescriptor(t, s, "src", g.lists[0]),
	}}
	ix.SchemaVersion = 2
	raw, _ := json.Marshal(ix)
	shortcut := digest.Digest(s.PutManifest("src", "shortcut", imgspecv1.MediaTypeImageIndex, raw))
	_, err = Copy(context.Background(), src, "shortcut", dst, "shortcut", Options{}, nil)
	check("copy through a shortcut", shortcut, err)
}

func listDescriptor(t *testing.T, s *registrystub.Stub, repo string, d digest.Digest) imgspecv1.Descriptor {
	t.Helper()
	raw, ok := s.Manifest(repo, d.String())
	if !ok {
		t.Fatalf("%s@%s missing", repo, d)
	}
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: d, Size: int64(len(raw))}
}

func mlClient(s *registrystub.Stub) *registry.Client {
	return registry.New(s.Host, nil, registry.Options{Insecure: true})
}

// TestGraphRequestsShareOneLimit: a transfer of an index of 20 indexes of
// 20 images each never has more than SmallJobs requests at the source at
// once: one limit for the whole graph, not one per level.
func TestGraphRequestsShareOneLimit(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	var inflight, most atomic.Int32
	src.SetHook(func(http.ResponseWriter, *http.Request) bool {
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond) // long enough for requests to overlap
		inflight.Add(-1)
		return false
	})
	top := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex}
	top.SchemaVersion = 2
	for i := range 20 {
		var images []testImage
		for j := range 20 {
			images = append(images, src.pushImage("app", "amd64", []byte(fmt.Sprintf("layer %d/%d", i, j))))
		}
		raw := src.pushIndex("app", fmt.Sprintf("part%d", i), images, nil)
		top.Manifests = append(top.Manifests, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))})
	}
	raw, _ := json.Marshal(top)
	src.putManifest("app", "v1", imgspecv1.MediaTypeImageIndex, raw)
	if err := transfer(context.Background(), src.endpoint("app"), dst.endpoint("app"), nil, Manifest{Digest: digest.FromBytes(raw)}); err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m > SmallJobs {
		t.Errorf("%d requests at the source at once, want at most %d", m, SmallJobs)
	}
	if n := len(src.requestsMatching("GET", "/manifests/")); n != 1+20+400 {
		t.Errorf("%d manifest GETs, want %d", n, 1+20+400)
	}
}

// TestFetchRepeatedEntries: reading a list's entries (inspect --verbose,
// create from a list) reads each distinct entry once.
func TestFetchRepeatedEntries(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "app", "v1", 1, 100)
	sess := mlSession()
	ref := mlRef(t, s.Host, "app:v1")
	f, err := FetchSource(context.Background(), sess, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 200 {
		t.Fatalf("%d entries, want 200", len(f.Entries))
	}
	for i, e := range f.Entries {
		if digest.FromBytes(e.Raw) != e.Descriptor.Digest {
			t.Fatalf("entry %d holds the bytes of another manifest", i)
		}
	}
	checkCounts(t, s, "GET", "/v2/app/manifests/", g.manifests[:2], 1)
}

// TestChooseImageRepeatedLists: looking for a platform through nested
// lists (a docker-archive holds one image) reads each nested list once,
// however often the lists repeat it, even when no image matches.
func TestChooseImageRepeatedLists(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	g := pushRepeatedGraph(t, s, "app", "v1", 3, 100)
	opts := Options{SystemContext: localSys(t), Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "s390x"}}}
	_, err := CopySides(context.Background(), regSide(s, "app", "v1"), localSide(t, "docker-archive:"+filepath.Join(t.TempDir(), "app.tar")), opts, nil)
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/s390x") {
		t.Fatalf("error %v, want no image for linux/s390x", err)
	}
	checkCounts(t, s, "GET", "/v2/app/manifests/", g.lists[:2], 1)
}
