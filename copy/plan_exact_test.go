package copy

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPlanRequestsLayoutRecopy: a copy into a local destination that
// holds a copy already: the dry run's requests and the run's own plan's
// are the requests the copy makes. An OCI layout is written in place, and
// the blobs it holds are present, not read from the source; an
// oci-archive or docker-archive is written anew, every blob read.
func TestPlanRequestsLayoutRecopy(t *testing.T) {
	amd64 := []imgspecv1.Platform{{OS: "linux", Architecture: "amd64"}}
	tests := map[string]struct {
		transport   string
		platforms   []imgspecv1.Platform
		wantPresent int
	}{
		"oci":            {transport: "oci", wantPresent: 4}, // all but c's own layer (c's config is b's)
		"oci-archive":    {transport: "oci-archive"},
		"docker-archive": {transport: "docker-archive", platforms: amd64},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := newStubRegistry(t)
			a := src.pushImage("app", "amd64", []byte("layer a"), []byte("shared"))
			b := src.pushImage("app", "arm64", []byte("layer b"), []byte("shared"))
			c := src.pushImage("app", "arm64", []byte("layer c"), []byte("shared"))
			src.pushIndex("app", "v1", []testImage{a, b}, nil)
			src.pushIndex("app", "v2", []testImage{a, c}, nil)
			at := tc.transport + ":" + filepath.Join(t.TempDir(), "out")
			sys := localSys(t)
			if _, err := CopySides(context.Background(), regSide(src.Stub, "app", "v1"), localSide(t, at+":v1"), Options{SystemContext: sys, Platforms: tc.platforms}, nil); err != nil {
				t.Fatal(err)
			}
			resetRequests(src)
			dry, err := CopySides(context.Background(), regSide(src.Stub, "app", "v2"), localSide(t, at+":v2"), Options{DryRun: true, SystemContext: sys, Platforms: tc.platforms}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := countBlobActions(dry.Plan.Blobs, actionPresent); n != tc.wantPresent {
				t.Errorf("blobs %+v, want %d present", dry.Plan.Blobs, tc.wantPresent)
			}
			resetRequests(src)
			run, err := CopySides(context.Background(), regSide(src.Stub, "app", "v2"), localSide(t, at+":v2"), Options{SystemContext: sys, Platforms: tc.platforms}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := count(src); got != dry.Plan.Requests || got != run.Plan.Requests {
				t.Errorf("the dry run planned %d requests, the run's plan %d, the copy made %d:\n%s", dry.Plan.Requests, run.Plan.Requests, got, requestLog(src))
			}
		})
	}
}

func countBlobActions(bs []PlanBlob, action string) int {
	n := 0
	for _, b := range bs {
		if b.Action == action {
			n++
		}
	}
	return n
}

// TestPlanRequestsMediaType: a conversion's dry run predicts exactly the
// requests of the copy, the source's tag listing (read to look for
// signatures) in pages included.
func TestPlanRequestsMediaType(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	images := []testImage{src.pushImage("app", "amd64", []byte("layer a")), src.pushImage("app", "arm64", []byte("layer b"))}
	for _, tag := range []string{"v1", "v2", "v3"} {
		src.pushIndex("app", tag, images, nil)
	}
	// The listing comes a tag a page, as a registry with a small page does.
	src.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/tags/list") && r.URL.Query().Get("n") == "" {
			r.URL.RawQuery = "n=1"
		}
		return false
	})
	opts := Options{MediaType: "docker"}
	dry := opts
	dry.DryRun = true
	resetRequests(src, dst)
	plan, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", dry, nil)
	if err != nil {
		t.Fatal(err)
	}
	resetRequests(src, dst)
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", opts, nil); err != nil {
		t.Fatal(err)
	}
	if pages := len(src.requestsMatching("GET", "/tags/list")); pages != 3 {
		t.Errorf("the run read %d pages of tags, want 3", pages)
	}
	if got := count(src, dst); got != plan.Plan.Requests {
		t.Errorf("the dry run planned %d requests, the copy made %d:\n%s", plan.Plan.Requests, got, requestLog(src, dst))
	}
}

// TestPlanRequestsReferrers: a --referrers plan counts the referrers'
// requests too, exactly: its dry run's requests are the requests the copy
// then makes (the referrers found and read by the plan, their writes
// predicted like the image's), within a registry and across, from a
// source with the referrers API and from one with the tag schema only,
// into a new repository and again into the same one (which holds it all);
// only into another registry that holds none of the image does it not
// know whether that has the referrers API, and say so.
// The image and its four referrers share the empty config, which the copy
// makes present once; five copies catch a count that depends on timing.
func TestPlanRequestsReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		for _, across := range []bool{false, true} {
			name := "tag schema"
			if api {
				name = "referrers API"
			}
			if across {
				name += " across registries"
			}
			t.Run(name, func(t *testing.T) {
				src := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: api})
				dst := src
				if across {
					dst = newStubRegistryWith(t, registrystub.Options{ReferrersAPI: api})
				}
				pushRefFixture(src.Stub, "app", !api)
				for i := range 5 {
					repo := "mirror" + strconv.Itoa(i)
					for _, again := range []bool{false, true} {
						plan, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint(repo), "v1", Options{Referrers: true, DryRun: true}, nil)
						if err != nil {
							t.Fatal(err)
						}
						// Into another registry that holds none of it, the
						// plan does not know whether that has the API (it
						// predicts not), and says so.
						unknown := across && !again
						raw, _ := json.Marshal(plan.Plan)
						if strings.Contains(string(raw), `"requestsExact":true`) == unknown || strings.Contains(plan.Plan.RequestsLeftOut, "referrers API") != unknown {
							t.Errorf("copy %d (again %v): the plan's requestsExact is wrong: %s", i, again, raw)
						}
						resetRequests(src, dst)
						res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint(repo), "v1", Options{Referrers: true}, nil)
						if err != nil || len(res.Warnings) > 0 {
							t.Fatal(err, res.Warnings)
						}
						if got := count(src, dst); (unknown && api) || got != plan.Plan.Requests || (!again && got != res.Plan.Requests) {
							if unknown && api && got == plan.Plan.Requests-4 {
								continue // the GET and PUT of the image's and the SBOM's index, predicted
							}
							t.Errorf("copy %d (again %v): the dry run planned %d requests, the run's plan %d, the copy made %d:\n%s", i, again, plan.Plan.Requests, res.Plan.Requests, got, requestLog(src, dst))
						}
					}
				}
			})
		}
	}
}

// TestCopyTagHeldExtraTag: when the copy's own tag holds the source and an
// extra tag of the repository does not, the copy reads the source's top
// manifest alone (not its graph, which the destination holds) and writes
// the extra tag: a HEAD of each tag and of the source, a GET, a PUT; its
// dry run and its own plan say so.
func TestCopyTagHeldExtraTag(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	images := []testImage{src.pushImage("app", "amd64", []byte("a")), src.pushImage("app", "arm64", []byte("b"))}
	src.pushIndex("app", "v1", images, nil)
	if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{}, nil); err != nil {
		t.Fatal(err)
	}
	extra := Options{Tags: []registry.Reference{{Host: dst.host(), Repository: "mirror", Tag: "stable"}}}
	dry := extra
	dry.DryRun = true
	plan, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", dry, nil)
	if err != nil {
		t.Fatal(err)
	}
	resetRequests(src, dst)
	res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", extra, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(src, dst); got != 5 || got != plan.Plan.Requests || got != res.Plan.Requests || len(src.requestsMatching("GET", "/manifests/")) != 1 {
		t.Errorf("the dry run planned %d requests, the run's plan %d, the copy made %d (want 5, one manifest GET):\n%s", plan.Plan.Requests, res.Plan.Requests, got, requestLog(src, dst))
	}
	if m, ok := dst.manifest("mirror", "stable"); !ok || digest.FromBytes(m.raw) != plan.Plan.Digest {
		t.Errorf("mirror:stable does not hold %s", plan.Plan.Digest)
	}
}

// TestPlanRequestsMirrorIntoLayout: copy --all-tags into an OCI layout
// that holds some of the blobs (one tag mirrored before): the dry run
// predicts exactly the requests of the run, the blobs there not read.
func TestPlanRequestsMirrorIntoLayout(t *testing.T) {
	src := newStubRegistry(t)
	mirrorFixture(t, src.Stub, "app")
	at := "oci:" + filepath.Join(t.TempDir(), "out")
	sys := localSys(t)
	plan := func(filter TagFilter, dry bool) *Plan {
		t.Helper()
		p, err := PlanMirror(context.Background(), regSide(src.Stub, "app", ""), localSide(t, at), filter, Options{DryRun: dry, SystemContext: sys}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := plan(TagFilter{Include: []*regexp.Regexp{regexp.MustCompile(`^amd64$`)}}, false)
	if err := Execute(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	first.Close()
	resetRequests(src)
	dry := plan(TagFilter{}, true)
	dry.Close()
	if n := countBlobActions(dry.Blobs, actionPresent); n == 0 {
		t.Errorf("blobs %+v: none present, the amd64 image's are", dry.Blobs)
	}
	resetRequests(src)
	run := plan(TagFilter{}, false)
	defer run.Close()
	if err := Execute(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if got := count(src); got != dry.Requests || got != run.Requests {
		t.Errorf("the dry run planned %d requests, the run's plan %d, the mirror made %d:\n%s", dry.Requests, run.Requests, got, requestLog(src))
	}
}

// TestPlanReferrersLeftOut: a --referrers plan leaves requests out only
// where it cannot count them: whether a registry that holds none of the
// image has the referrers API (not asked about a manifest it lacks). From
// a registry into a layout it reads the referrers ahead and looks up on
// disk which blobs the layout holds, so a layout holding them costs fewer
// reads; a layout to a layout makes no request, and the rest is counted
// exactly.
func TestPlanReferrersLeftOut(t *testing.T) {
	src := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: true})
	pushRefFixture(src.Stub, "app", false)
	dir := t.TempDir()
	if _, err := CopySides(context.Background(), regSide(src.Stub, "app", "v1"), localSide(t, "oci:"+dir+"/a:v1"), Options{Referrers: true}, nil); err != nil {
		t.Fatal(err)
	}
	planned := map[string]int{}
	for _, tc := range []struct {
		name     string
		src, dst Side
		leftOut  string
		// fewerThan is a case that plans more requests.
		fewerThan string
	}{
		{"registry to a new layout", regSide(src.Stub, "app", "v1"), localSide(t, "oci:"+dir+"/b:v1"), "", ""},
		{"registry to a layout that holds it", regSide(src.Stub, "app", "v1"), localSide(t, "oci:"+dir+"/a:v2"), "", "registry to a new layout"},
		{"registry to an oci-archive", regSide(src.Stub, "app", "v1"), localSide(t, "oci-archive:"+dir+"/d.tar:v1"), "", ""},
		{"layout to layout", localSide(t, "oci:"+dir+"/a:v1"), localSide(t, "oci:"+dir+"/c:v1"), "", ""},
		{"layout to a registry that holds none of it", localSide(t, "oci:"+dir+"/a:v1"), regSide(src.Stub, "back", "v1"), "referrers API", ""},
		{"layout to a registry that holds it", localSide(t, "oci:"+dir+"/a:v1"), regSide(src.Stub, "app", "v2"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanCopy(context.Background(), tc.src, tc.dst, Options{Referrers: true, DryRun: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if (tc.leftOut == "") != (p.RequestsLeftOut == "") || !strings.Contains(p.RequestsLeftOut, tc.leftOut) {
				t.Errorf("the plan leaves out %q, want %q", p.RequestsLeftOut, tc.leftOut)
			}
			t.Logf("planned %d requests", p.Requests)
			planned[tc.name] = p.Requests
			if more, ok := planned[tc.fewerThan]; ok && p.Requests >= more {
				t.Errorf("the plan counts %d requests, as many as %q (%d)", p.Requests, tc.fewerThan, more)
			}
			if tc.leftOut != "" {
				return
			}
			resetRequests(src)
			res, err := CopySides(context.Background(), tc.src, tc.dst, Options{Referrers: true}, nil)
			if err != nil || len(res.Warnings) > 0 {
				t.Fatal(err, res.Warnings)
			}
			if got := count(src); got != p.Requests {
				t.Errorf("the dry run planned %d requests, the copy made %d:\n%s", p.Requests, got, requestLog(src))
			}
		})
	}
}
