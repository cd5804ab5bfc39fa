package copy

import (
	"context"
	"regexp"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// mirrorRun plans and runs a mirror of src/app to dst/mirror with opts,
// and holds the plan's request count, and a dry run's before it, to what
// the registries logged for the run.
func mirrorRun(t *testing.T, src, dst *registrystub.Stub, filter TagFilter, opts Options) *Plan {
	t.Helper()
	dry := opts
	dry.DryRun = true
	dp, err := PlanMirror(context.Background(), regSide(src, "app", ""), regSide(dst, "mirror", ""), filter, dry, nil)
	if err != nil {
		t.Fatal(err)
	}
	dp.Close()
	srcBefore, dstBefore := len(src.Requests()), len(dst.Requests())
	p, err := PlanMirror(context.Background(), regSide(src, "app", ""), regSide(dst, "mirror", ""), filter, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := len(src.Requests()) - srcBefore + len(dst.Requests()) - dstBefore; got != p.Requests {
		t.Errorf("the plan predicted %d requests, the run made %d:\n%v\n%v", p.Requests, got, src.Requests()[srcBefore:], dst.Requests()[dstBefore:])
	}
	if dp.Requests != p.Requests {
		t.Errorf("the dry run predicted %d requests, the run's plan %d", dp.Requests, p.Requests)
	}
	return p
}

// writesSince are the requests other than reads a registry logged.
func writesSince(s *registrystub.Stub, before int) []string {
	var out []string
	for _, r := range s.Requests()[before:] {
		if !regexp.MustCompile(`^(GET|HEAD) `).MatchString(r) {
			out = append(out, r)
		}
	}
	return out
}

func tagWrite(t *testing.T, p *Plan, tag string) TagWrite {
	t.Helper()
	for _, tw := range p.Tags {
		if regexp.MustCompile(`:` + regexp.QuoteMeta(tag) + `$`).MatchString(tw.Tag) {
			return tw
		}
	}
	t.Fatalf("the plan has no tag %s: %+v", tag, p.Tags)
	return TagWrite{}
}

// TestPlanMirrorPlatform: --platform subsets each tag's list (v1 loses its
// arm64 entry, v2 holds amd64 alone and keeps its digest), a tag that is a
// single image is copied whole and its result says so, and a re-run reads
// a GET per source tag and a HEAD per destination tag and writes nothing.
func TestPlanMirrorPlatform(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	want := mirrorFixture(t, src, "app")
	filter := TagFilter{Include: []*regexp.Regexp{regexp.MustCompile(`^(v1|v2|arm64)$`)}}
	opts := Options{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "amd64"}}}
	p := mirrorRun(t, src, dst, filter, opts)
	for _, tag := range []string{"v1", "v2"} {
		raw, ok := dst.Manifest("mirror", tag)
		if !ok {
			t.Fatalf("mirror:%s missing", tag)
		}
		l, err := manifestlist.ParseList(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Manifests) != 1 || l.Manifests[0].Digest.String() != want["amd64"] {
			t.Errorf("mirror:%s holds %s, want the amd64 image alone", tag, manifestlist.EntriesText(l))
		}
		if tw := tagWrite(t, p, tag); tw.New.String() != registrystub.Digest(raw) || tw.Note != "" {
			t.Errorf("mirror:%s result %+v, want new %s and no note", tag, tw, registrystub.Digest(raw))
		}
	}
	if raw, _ := dst.Manifest("mirror", "v2"); registrystub.Digest(raw) != want["v2"] {
		t.Errorf("mirror:v2 is %s; v2 holds amd64 alone and keeps its digest %s", registrystub.Digest(raw), want["v2"])
	}
	if raw, ok := dst.Manifest("mirror", "arm64"); !ok || registrystub.Digest(raw) != want["arm64"] {
		t.Errorf("mirror:arm64 is not the source's single image %s", want["arm64"])
	}
	if tw := tagWrite(t, p, "arm64"); tw.Note == "" || tw.Action() != "written" {
		t.Errorf("arm64's result %+v, want written with a note that it is whole", tw)
	}
	// amd64's and arm64's configs and layers, once each.
	if n := dst.Count("PUT", "/blobs/uploads/"); n != 4 {
		t.Errorf("%d blob uploads, want 4:\n%v", n, dst.Requests())
	}

	dstBefore := len(dst.Requests())
	p = mirrorRun(t, src, dst, filter, opts)
	if !p.Unchanged {
		t.Errorf("re-run is not unchanged: %+v", p.Tags)
	}
	if w := writesSince(dst, dstBefore); len(w) > 0 {
		t.Errorf("re-run wrote %v", w)
	}
	// A tag list per side, a GET per source tag, a HEAD per destination
	// tag (mirrorRun holds the run to p.Requests).
	if p.Requests != 2+3+3 {
		t.Errorf("re-run makes %d requests, want 8", p.Requests)
	}
}

// TestPlanMirrorMediaType: --media-type oci converts each tag's graph, the
// image two tags share converted and written once, whether both tags are
// mirrored at once or the image is at the destination already; a re-run
// writes nothing.
func TestPlanMirrorMediaType(t *testing.T) {
	both := TagFilter{Include: []*regexp.Regexp{regexp.MustCompile(`^(v1|v2)$`)}}
	onlyV2 := TagFilter{Include: []*regexp.Regexp{regexp.MustCompile(`^v2$`)}}
	for name, runs := range map[string][]TagFilter{"at once": {both}, "v2 first": {onlyV2, both}} {
		t.Run(name, func(t *testing.T) {
			src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
			mirrorFixture(t, src, "app")
			opts := Options{MediaType: "oci"}
			var p *Plan
			for _, f := range runs {
				p = mirrorRun(t, src, dst, f, opts)
			}
			var shared string
			for _, tag := range []string{"v1", "v2"} {
				mt, raw, ok := dst.ManifestOf("mirror", tag)
				if !ok || mt != imgspecv1.MediaTypeImageIndex {
					t.Fatalf("mirror:%s is %q, want an OCI index", tag, mt)
				}
				if tw := tagWrite(t, p, tag); tw.New.String() != registrystub.Digest(raw) {
					t.Errorf("mirror:%s result %+v, want new %s", tag, tw, registrystub.Digest(raw))
				}
				l, err := manifestlist.ParseList(raw, mt)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range l.Manifests {
					if d.MediaType != imgspecv1.MediaTypeImageManifest {
						t.Errorf("mirror:%s entry %s is %s", tag, d.Digest, d.MediaType)
					}
					if d.Platform.Architecture == "amd64" {
						if shared != "" && shared != d.Digest.String() {
							t.Errorf("the shared amd64 image converted to %s and %s", shared, d.Digest)
						}
						shared = d.Digest.String()
					}
				}
			}
			if n := dst.Count("PUT", "/manifests/"+shared); n != 1 {
				t.Errorf("the shared converted image was put %d times, want once:\n%v", n, dst.Requests())
			}
			if p.Converted != "oci" {
				t.Errorf("the plan says converted %q, want oci", p.Converted)
			}
			if n := dst.Count("PUT", "/manifests/"); n != 4 {
				t.Errorf("%d manifest PUTs, want 4 (two images, two lists):\n%v", n, dst.Requests())
			}

			dstBefore := len(dst.Requests())
			p = mirrorRun(t, src, dst, both, opts)
			if !p.Unchanged {
				t.Errorf("re-run is not unchanged: %+v", p.Tags)
			}
			if w := writesSince(dst, dstBefore); len(w) > 0 {
				t.Errorf("re-run wrote %v", w)
			}
		})
	}
}

// TestPlanMirrorMediaTypeFailsOneTag: a tag whose graph cannot be
// converted (attestations do not go in a Docker manifest list) fails
// alone, named; the other tags are converted and written.
func TestPlanMirrorMediaTypeFailsOneTag(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	g := graph{t, src, "app"}
	a := g.image(imgspecv1.MediaTypeImageManifest, "amd64")
	g.list(imgspecv1.MediaTypeImageIndex, "attested", a, g.attestation(a))
	g.list(imgspecv1.MediaTypeImageIndex, "plain", g.image(imgspecv1.MediaTypeImageManifest, "arm64"))
	p := mirrorRun(t, src, dst, TagFilter{}, Options{MediaType: "docker"})
	if failed := p.Failed(); len(failed) != 1 || !regexp.MustCompile(`:attested$`).MatchString(failed[0].Tag) || !regexp.MustCompile(`attestation`).MatchString(failed[0].Error) {
		t.Fatalf("failed tags %+v, want attested alone, for its attestation", failed)
	}
	if _, ok := dst.Manifest("mirror", "attested"); ok {
		t.Error("mirror:attested was written")
	}
	if mt, _, ok := dst.ManifestOf("mirror", "plain"); !ok || mt != manifest.DockerV2ListMediaType {
		t.Errorf("mirror:plain is %q, want a Docker manifest list", mt)
	}
}

// TestPlanMirrorPlatformMissing: a list without the platform fails its tag
// alone (copy refuses it too); the other tags are written.
func TestPlanMirrorPlatformMissing(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	want := mirrorFixture(t, src, "app")
	p := mirrorRun(t, src, dst, TagFilter{Include: []*regexp.Regexp{regexp.MustCompile(`^v(1|2)$`)}}, Options{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "arm64"}}})
	if failed := p.Failed(); len(failed) != 1 || !regexp.MustCompile(`:v2$`).MatchString(failed[0].Tag) || !regexp.MustCompile(`no entry for platform linux/arm64`).MatchString(failed[0].Error) {
		t.Fatalf("failed tags %+v, want v2 alone, for its missing platform", failed)
	}
	raw, _ := dst.Manifest("mirror", "v1")
	if l, err := manifestlist.ParseList(raw, ""); err != nil || len(l.Manifests) != 1 || l.Manifests[0].Digest.String() != want["arm64"] {
		t.Errorf("mirror:v1 does not hold the arm64 image alone: %v %s", err, raw)
	}
}

// TestPlanMirrorPlatformFromLayout: an oci: layout's tags are subset too
// (their lists are read by digest, which the layout names).
func TestPlanMirrorPlatformFromLayout(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	want := mirrorFixture(t, src, "app")
	dir := "oci:" + t.TempDir()
	run := func(from, to Side, opts Options) *Plan {
		t.Helper()
		opts.SystemContext = localSys(t)
		p, err := PlanMirror(context.Background(), from, to, TagFilter{}, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := Execute(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run(regSide(src, "app", ""), localSide(t, dir), Options{})
	p := run(localSide(t, dir), regSide(dst, "mirror", ""), Options{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "amd64"}}})
	if len(p.Failed()) > 0 {
		t.Fatalf("failed: %+v", p.Failed())
	}
	raw, _ := dst.Manifest("mirror", "v1")
	if l, err := manifestlist.ParseList(raw, ""); err != nil || len(l.Manifests) != 1 || l.Manifests[0].Digest.String() != want["amd64"] {
		t.Errorf("mirror:v1 does not hold the amd64 image alone: %v %s", err, raw)
	}
	if raw, _ := dst.Manifest("mirror", "arm64"); registrystub.Digest(raw) != want["arm64"] {
		t.Errorf("mirror:arm64 is not the single image %s", want["arm64"])
	}
}
