package copy

import (
	"context"
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
// the source's referrer tags are not mirrored as tags of their own; the
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
	plan := func(dry bool) *Plan {
		t.Helper()
		p, err := PlanMirror(context.Background(), regSide(reg.Stub, "app", ""), regSide(out.Stub, "mirror", ""), TagFilter{}, Options{Referrers: true, DryRun: dry}, nil)
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
	checkHolds(t, out.Stub, "mirror", f.sig.Digest.String(), f.sbom.Digest.String(), f.sbomSig.Digest.String())
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
