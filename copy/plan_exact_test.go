package copy

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
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

// TestPlanRequestsReferrers: a --referrers plan says that its requests
// leave out the referrers' (found, read and written after the image, from
// what the registries hold then), from a source with the referrers API and
// from one with the tag schema only; its requests count the image's
// exactly; a plan without --referrers says its requests are exact.
func TestPlanRequestsReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := "tag schema"
		if api {
			name = "referrers API"
		}
		t.Run(name, func(t *testing.T) {
			// One registry: its one log orders the image's requests and the
			// referrers'.
			src := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: api})
			dst := src
			pushRefFixture(src.Stub, "app", !api)
			plans := map[bool]*Plan{}
			for _, referrers := range []bool{false, true} {
				res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{Referrers: referrers, DryRun: true}, nil)
				if err != nil {
					t.Fatal(err)
				}
				plans[referrers] = res.Plan
				var out struct {
					Requests        int    `json:"requests"`
					RequestsExact   bool   `json:"requestsExact"`
					RequestsLeftOut string `json:"requestsLeftOut"`
				}
				raw, err := json.Marshal(res.Plan)
				if err == nil {
					err = json.Unmarshal(raw, &out)
				}
				if err != nil {
					t.Fatal(err)
				}
				if out.RequestsExact == referrers || strings.Contains(out.RequestsLeftOut, "--referrers") != referrers || out.Requests != res.Plan.Requests {
					t.Errorf("--referrers %v: the plan's JSON says %s", referrers, raw)
				}
			}
			// The plan counts the image's requests exactly: those before the
			// referrers' (which start with the source's tag listing), and the
			// tag written once they are there.
			resetRequests(src)
			res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{Referrers: true}, nil)
			if err != nil || len(res.Warnings) > 0 {
				t.Fatal(err, res.Warnings)
			}
			log := src.Log()
			image := slices.IndexFunc(log, func(r stubRequest) bool { return strings.HasSuffix(r.Path, "/tags/list") })
			if image < 0 || log[len(log)-1].Method != "PUT" || log[len(log)-1].Path != "/v2/mirror/manifests/v1" {
				t.Fatalf("the copy did not list the tags, or wrote the tag before the end:\n%s", requestLog(src))
			}
			if got := image + 1; got != plans[true].Requests {
				t.Errorf("the dry run planned %d requests for the image, the copy made %d:\n%s", plans[true].Requests, got, requestLog(src))
			}
		})
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
