package copy

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPlanMirrorReferrers: copy --all-tags --referrers of two tags, one
// signed (referrers, a referrer of a referrer, a cosign .sig tag), from a
// source with and without the referrers API: the destination gets both
// tags and every referrer (and, without the API, the tag-schema index);
// the source's referrer tags are not mirrored as tags of their own; a tag
// is written after its referrers; the
// dry run predicts exactly the requests of the run (into another registry
// that holds none of it, all but what depends on whether that has the
// API, which the plan says it leaves out); a re-run writes nothing.
func TestPlanMirrorReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		for _, across := range []bool{false, true} {
			name := map[bool]string{true: "referrers API", false: "tag schema"}[api] + map[bool]string{true: " across registries"}[across]
			t.Run(name, func(t *testing.T) { mirrorReferrers(t, api, across) })
		}
	}
}

// mirrorReferrers is one case of TestPlanMirrorReferrers.
func mirrorReferrers(t *testing.T, api, across bool) {
	reg := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: api})
	out := reg
	if across {
		out = newStubRegistryWith(t, registrystub.Options{ReferrersAPI: api})
	}
	f := pushRefFixture(reg.Stub, "app", !api)
	other := pushArtifact(reg.Stub, "app", "", "", "second image")
	raw, _ := reg.Manifest("app", other.Digest.String())
	reg.PutManifest("app", "v2", imgspecv1.MediaTypeImageManifest, raw)
	stats := &Stats{} // the runs'
	plan := func(dry bool) *Plan {
		t.Helper()
		var st *Stats
		if !dry {
			st = stats
		}
		p, err := PlanMirror(context.Background(), regSide(reg.Stub, "app", ""), regSide(out.Stub, "mirror", ""), TagFilter{}, Options{Referrers: true, DryRun: dry}, st)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	resetRequests(reg, out)
	dry := plan(true)
	dry.Close()
	// Into another registry that holds none of it, the plan does
	// not know whether that has the API (it predicts not), and
	// says so.
	if (dry.RequestsLeftOut != "") != across {
		t.Errorf("the dry run leaves out %q", dry.RequestsLeftOut)
	}
	var tags []string
	for _, tw := range dry.Tags {
		tags = append(tags, strings.TrimPrefix(tw.Tag, out.Host+"/mirror:"))
	}
	if !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("the plan's tags are %v, want v1 and v2 (the referrer tags come with --referrers)", tags)
	}
	resetRequests(reg, out)
	run := plan(false)
	if err := Execute(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	run.Close()
	if len(run.Warnings) > 0 {
		t.Errorf("warnings: %v", run.Warnings)
	}
	predicted := dry.Requests
	if across && api {
		predicted -= 4 // the GET and PUT of the image's and the SBOM's index
	}
	if got := count(reg, out); got != predicted || got != run.Requests-(dry.Requests-predicted) {
		t.Errorf("the dry run planned %d requests, the run's plan %d, the mirror made %d:\n%s", dry.Requests, run.Requests, got, requestLog(reg, out))
	}
	for tag, d := range map[string]string{"v1": f.image, "v2": other.Digest.String(), strings.Replace(f.image, ":", "-", 1) + ".sig": f.cosign} {
		if raw, ok := out.Manifest("mirror", tag); !ok || registrystub.Digest(raw) != d {
			t.Errorf("mirror:%s is not %s", tag, d)
		}
	}
	if snap, _ := stats.Snapshot(); snap.TagsDone != 3 || snap.Tags != 3 {
		t.Errorf("the progress counts %d of %d tags written, want 3 of 3 (v1, v2, the cosign tag)", snap.TagsDone, snap.Tags)
	}
	checkHolds(t, out.Stub, "mirror", f.sig.Digest.String(), f.sbom.Digest.String(), f.sbomSig.Digest.String())
	// v1 is written once its referrers are there.
	put := func(ref string) (first, last int) {
		first, last = -1, -1
		for i, r := range out.Log() {
			if r.Method == "PUT" && r.Path == "/v2/mirror/manifests/"+ref {
				last = i
				if first < 0 {
					first = i
				}
			}
		}
		return first, last
	}
	if v1, _ := put("v1"); v1 < 0 || slices.ContainsFunc([]string{f.sig.Digest.String(), f.sbom.Digest.String(), f.sbomSig.Digest.String()}, func(d string) bool {
		_, last := put(d)
		return last > v1
	}) {
		t.Errorf("v1 was written before its referrers:\n%s", requestLog(reg, out))
	}
	if !api {
		if got, want := readIndex(t, out.Stub, "mirror", f.image), sortedDigests(f.sig, f.sbom); !slices.Equal(got, want) {
			t.Errorf("the image's tag-schema index lists %v, want %v", got, want)
		}
	}

	resetRequests(reg, out)
	again := plan(false)
	if err := Execute(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	again.Close()
	for _, r := range append(reg.Requests(), out.Requests()...) {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("the re-run wrote: %s", r)
		}
	}
	if !again.Unchanged || count(reg, out) != again.Requests {
		t.Errorf("re-run: unchanged %v, planned %d requests, made %d:\n%s", again.Unchanged, again.Requests, count(reg, out), requestLog(reg, out))
	}
}

// TestPlanMirrorReferrersIntoLayout: copy --all-tags --referrers from a
// registry into an oci: layout names both tags and the image's referrers
// (the tag-schema indexes of the image and its SBOM, its cosign tag) in
// index.json, the dry run
// predicting the requests exactly; from that layout into another, the run
// finds the referrers itself and names them too.
func TestPlanMirrorReferrersIntoLayout(t *testing.T) {
	reg := newStubRegistryWith(t, registrystub.Options{ReferrersAPI: true})
	f := pushRefFixture(reg.Stub, "app", false)
	other := pushArtifact(reg.Stub, "app", "", "", "second image")
	raw, _ := reg.Manifest("app", other.Digest.String())
	reg.PutManifest("app", "v2", imgspecv1.MediaTypeImageManifest, raw)
	dir, sys := t.TempDir(), localSys(t)
	image := strings.Replace(f.image, ":", "-", 1)
	// The SBOM has a referrer too: its own index.
	want := []string{image, image + ".sig", strings.Replace(f.sbom.Digest.String(), ":", "-", 1), "v1", "v2"}
	slices.Sort(want)
	for _, tc := range []struct {
		name     string
		src, dst Side
	}{
		{"registry to a layout", regSide(reg.Stub, "app", ""), localSide(t, "oci:"+dir+"/a")},
		{"layout to a layout", localSide(t, "oci:"+dir+"/a"), localSide(t, "oci:"+dir+"/b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := func(dry bool) *Plan {
				t.Helper()
				p, err := PlanMirror(context.Background(), tc.src, tc.dst, TagFilter{}, Options{Referrers: true, DryRun: dry, SystemContext: sys}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			dry := plan(true)
			dry.Close()
			resetRequests(reg)
			run := plan(false)
			defer run.Close()
			if err := Execute(context.Background(), run); err != nil {
				t.Fatal(err)
			}
			if len(run.Warnings) > 0 || dry.RequestsLeftOut != "" {
				t.Errorf("warnings %v, left out %q", run.Warnings, dry.RequestsLeftOut)
			}
			if got := count(reg); got != dry.Requests || got != run.Requests {
				t.Errorf("the dry run planned %d requests, the run's plan %d, the mirror made %d:\n%s", dry.Requests, run.Requests, got, requestLog(reg))
			}
			names, err := layoutTags(*tc.dst.Local)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(maps.Keys(names))
			if !slices.Equal(got, want) {
				t.Errorf("the layout names %v, want %v", got, want)
			}
		})
	}
}

// TestIsReferrerTag: the tags a mirror with --referrers leaves to the
// referrers' copy.
func TestIsReferrerTag(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		tag  string
		want bool
	}{
		{"sha256-" + hex, true},
		{"sha256-" + hex + ".sig", true},
		{"sha256-" + hex + ".att", true},
		{"sha256-" + hex + ".sbom", true},
		{"sha256-" + hex + ".txt", false},
		{"sha256-" + hex[:10], false},
		{"sha256-" + strings.ToUpper(hex), false},
		{"v1", false},
		{"latest.sig", false},
		{"md5-" + hex, false},
	} {
		if got := isReferrerTag(tc.tag); got != tc.want {
			t.Errorf("isReferrerTag(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}
