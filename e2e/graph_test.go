package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// checkPerDigest fails t for each digest that did not see exactly want
// requests of method on path ".../<what>/<digest>".
func checkPerDigest(t *testing.T, reqs harness.Requests, method, what string, digests []string, want int) {
	t.Helper()
	for _, d := range digests {
		if n := reqs.Count(method, "/"+what+"/"+d); n != want {
			t.Errorf("%d %s .../%s/%s, want %d:\n%s", n, method, what, d, want, reqs)
		}
	}
}

// mountsOf counts the mount requests for blob d.
func mountsOf(reqs harness.Requests, d string) int {
	return len(reqs.Filter(func(r harness.Request) bool {
		q, _ := url.ParseQuery(r.Query)
		return r.Method == http.MethodPost && q.Get("mount") == d
	}))
}

// TestRepeatedGraph: an index of 3 levels whose every level names the same
// image and the list below 100 times (600 entries, 5 distinct manifests)
// is copied to another registry, planned with --dry-run and merged into a
// list of the same registry with one read, one lookup and one write per
// distinct manifest and blob, as docker-registry's log counts them.
func TestRepeatedGraph(t *testing.T) {
	reg, other := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo, appRepo := testRepo(t, "src"), testRepo(t, "dst"), testRepo(t, "app")
	a := reg.PushImage(t, srcRepo, "", "linux/amd64", harness.ImageOptions{OCI: true})
	b := reg.PushImage(t, srcRepo, "", "linux/arm64", harness.ImageOptions{OCI: true})
	lists, err := reg.Client().PushRepeatedGraph(srcRepo, "v1", a, b, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	top := lists[2]
	below := []string{a.Digest, b.Digest, lists[0].Digest, lists[1].Digest} // read and written by digest
	var blobs []string
	for _, img := range []harness.Image{a, b} {
		blobs = append(blobs, img.Config.Digest)
		for _, l := range img.Layers {
			blobs = append(blobs, l.Digest)
		}
	}
	e := newEnv(t)
	from := reg.Ref(srcRepo + ":v1")

	t.Run("copy", func(t *testing.T) {
		mark, otherMark := reg.Mark(), other.Mark()
		if d := mustCopy(t, e, from, other.Ref(dstRepo+":v1")); d != top.Digest {
			t.Fatalf("copied %s, want %s", d, top.Digest)
		}
		src := reg.RequestsSince(mark).ForRepo(srcRepo)
		checkPerDigest(t, src, http.MethodGet, "manifests", append(below, "v1"), 1)
		checkPerDigest(t, src, http.MethodGet, "blobs", blobs, 1)
		dst := other.RequestsSince(otherMark).ForRepo(dstRepo)
		checkPerDigest(t, dst, http.MethodPut, "manifests", append(below, "v1"), 1)
		if n := dst.Count(http.MethodPut, "/blobs/uploads/"); n != len(blobs) {
			t.Errorf("%d blob uploads, want %d:\n%s", n, len(blobs), dst)
		}
		if n := dst.Count(http.MethodPut, "/manifests/"); n != len(below)+1 {
			t.Errorf("%d manifest PUTs, want %d:\n%s", n, len(below)+1, dst)
		}
	})

	t.Run("dry-run", func(t *testing.T) {
		mark, otherMark := reg.Mark(), other.Mark()
		e.mustMlist(t, "copy", "--dry-run", from, other.Ref(dstRepo+"-plan:v1"))
		src := reg.RequestsSince(mark).ForRepo(srcRepo)
		checkPerDigest(t, src, http.MethodGet, "manifests", append(below, "v1"), 1)
		if n := src.Count(http.MethodGet, "/blobs/"); n != 0 {
			t.Errorf("the dry run read %d blobs", n)
		}
		dst := other.RequestsSince(otherMark)
		checkPerDigest(t, dst, http.MethodHead, "blobs", blobs, 1)
		if n := dst.Count(http.MethodPut, "") + dst.Count(http.MethodPost, ""); n != 0 {
			t.Errorf("the dry run wrote:\n%s", dst)
		}
	})

	t.Run("merge", func(t *testing.T) {
		s390x := reg.PushImage(t, appRepo, "", "linux/s390x", harness.ImageOptions{OCI: true})
		reg.PushList(t, appRepo, "v1", []harness.Image{s390x}, harness.ListOptions{OCI: true})
		mark := reg.Mark()
		e.mustMlist(t, "merge", from, reg.Ref(appRepo+":v1"))
		src := reg.RequestsSince(mark).ForRepo(srcRepo)
		checkPerDigest(t, src, http.MethodGet, "manifests", append(below, "v1"), 1)
		app := reg.RequestsSince(mark).ForRepo(appRepo)
		checkPerDigest(t, app, http.MethodHead, "manifests", below, 1)
		checkPerDigest(t, app, http.MethodPut, "manifests", below, 1)
		for _, d := range blobs {
			if n := mountsOf(app, d); n != 1 {
				t.Errorf("%d mounts of %s, want 1:\n%s", n, d, app)
			}
		}
		_, ix := reg.MustGetIndex(t, appRepo, "v1")
		held := map[string]bool{}
		for _, m := range ix.Manifests {
			held[m.Digest] = true
		}
		if !held[lists[1].Digest] || !held[a.Digest] || !held[s390x.Digest] || len(ix.Manifests) != 3 {
			t.Errorf("merged list holds %+v, want list 2, image A and the s390x image", ix.Manifests)
		}
	})
}
