package copy

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// mirrorFixture is a repository of 5 tags: a list of two images under v1
// and v1.0, a second list sharing one of them under v2, and the two images
// under their own tags.
func mirrorFixture(t *testing.T, s *registrystub.Stub, repo string) map[string]string {
	g := graph{t, s, repo}
	a := g.image(manifest.DockerV2Schema2MediaType, "amd64")
	b := g.image(manifest.DockerV2Schema2MediaType, "arm64")
	l1 := g.list(manifest.DockerV2ListMediaType, "v1", a, b)
	g.list(manifest.DockerV2ListMediaType, "v1.0", a, b)
	l2 := g.list(manifest.DockerV2ListMediaType, "v2", a)
	for tag, d := range map[string]imgspecv1.Descriptor{"amd64": a, "arm64": b} {
		raw, _ := s.Manifest(repo, d.Digest.String())
		s.PutManifest(repo, tag, d.MediaType, raw)
	}
	return map[string]string{"v1": l1.Digest.String(), "v1.0": l1.Digest.String(), "v2": l2.Digest.String(), "amd64": a.Digest.String(), "arm64": b.Digest.String()}
}

func mirror(t *testing.T, src, dst *registrystub.Stub, filter TagFilter) *Plan {
	t.Helper()
	p, err := PlanMirror(context.Background(), regSide(src, "app", ""), regSide(dst, "mirror", ""), filter, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanMirror: every tag arrives with its digest; each distinct
// manifest and blob is read and written once across the tags (a tag that
// shares a digest costs its tag GET and PUT only); the plan predicts the
// requests exactly; a re-run reads a tag list and a HEAD per tag on each
// side, and writes nothing.
func TestPlanMirror(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	want := mirrorFixture(t, src, "app")
	before := len(src.Requests())
	p := mirror(t, src, dst, TagFilter{})
	if got := len(src.Requests()) - before + len(dst.Requests()); got != p.Requests {
		t.Errorf("the plan predicted %d requests, the run made %d:\n%v\n%v", p.Requests, got, src.Requests()[before:], dst.Requests())
	}
	// One GET per tag and none by digest: the lists' entries are the
	// images read by their tags.
	if n := src.Count("GET", "/manifests/"); n != len(want) {
		t.Errorf("%d manifest GETs from the source, want %d (one per tag):\n%v", n, len(want), src.Requests())
	}
	if n := src.Count("GET", "/blobs/"); n != 4 {
		t.Errorf("%d blob GETs, want 4 (2 configs, 2 layers):\n%v", n, src.Requests())
	}
	if n := dst.Count("PUT", "/manifests/"); n != len(want) {
		t.Errorf("%d manifest PUTs, want one per tag (%d):\n%v", n, len(want), dst.Requests())
	}
	if n := dst.Count("PUT", "/blobs/uploads/"); n != 4 {
		t.Errorf("%d blob uploads, want 4:\n%v", n, dst.Requests())
	}

	for tag, d := range want {
		if raw, ok := dst.Manifest("mirror", tag); !ok || registrystub.Digest(raw) != d {
			t.Errorf("mirror:%s is not %s", tag, d)
		}
		holdsGraph(t, src, "app", dst, "mirror", digest.Digest(d))
	}

	srcBefore, dstBefore := len(src.Requests()), len(dst.Requests())
	p = mirror(t, src, dst, TagFilter{})
	if !p.Unchanged || len(p.Tags) != len(want) {
		t.Errorf("re-run: unchanged %v, %d tags; want every tag unchanged", p.Unchanged, len(p.Tags))
	}
	for side, reqs := range map[string][]string{"source": src.Requests()[srcBefore:], "destination": dst.Requests()[dstBefore:]} {
		heads, lists := 0, 0
		for _, r := range reqs {
			switch {
			case regexp.MustCompile(`^HEAD /v2/\S+/manifests/`).MatchString(r):
				heads++
			case regexp.MustCompile(`^GET /v2/\S+/tags/list`).MatchString(r):
				lists++
			}
		}
		if heads != len(want) || lists != 1 || len(reqs) != heads+lists {
			t.Errorf("re-run, %s: %v; want a tag list and %d HEADs", side, reqs, len(want))
		}
	}
	if p.Requests != 2*(1+len(want)) {
		t.Errorf("re-run plan predicts %d requests, want %d", p.Requests, 2*(1+len(want)))
	}
}

// TestPlanMirrorMovedTag: a tag that moved at the source is named with
// both digests, and only what the destination lacks is read and written.
func TestPlanMirrorMovedTag(t *testing.T) {
	src, dst := registrystub.Start(t, registrystub.Options{}), registrystub.Start(t, registrystub.Options{})
	want := mirrorFixture(t, src, "app")
	mirror(t, src, dst, TagFilter{})
	raw, _ := src.Manifest("app", want["v2"])
	src.PutManifest("app", "v1", manifest.DockerV2ListMediaType, raw)
	before, srcBefore := len(dst.Requests()), len(src.Requests())
	p := mirror(t, src, dst, TagFilter{})
	// The destination holds v2's list: it is read, nothing below it.
	gets := 0
	for _, r := range src.Requests()[srcBefore:] {
		if regexp.MustCompile(`^GET /v2/\S+/manifests/`).MatchString(r) {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d manifest GETs from the source, want 1 (the list v1 moves to):\n%v", gets, src.Requests()[srcBefore:])
	}
	var moved []TagWrite
	for _, tw := range p.Tags {
		if tw.Action() != "unchanged" {
			moved = append(moved, tw)
		}
	}
	if len(moved) != 1 || moved[0].Tag != dst.Host+"/mirror:v1" || moved[0].Old.String() != want["v1"] || moved[0].New.String() != want["v2"] || moved[0].Action() != "moved" {
		t.Fatalf("changes %+v, want v1 moved from %s to %s", moved, want["v1"], want["v2"])
	}
	// v2's list is there already: one tag PUT.
	var writes []string
	for _, r := range dst.Requests()[before:] {
		if !regexp.MustCompile(`^(GET|HEAD) `).MatchString(r) {
			writes = append(writes, r)
		}
	}
	if len(writes) != 1 {
		t.Errorf("writes %v, want the tag PUT alone", writes)
	}
}

func TestTagFilter(t *testing.T) {
	re := func(s ...string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, x := range s {
			out = append(out, regexp.MustCompile(x))
		}
		return out
	}
	tags := []string{"v1", "v1.0", "v10", "v2", "latest", "v1-rc"}
	tests := []struct {
		name             string
		include, exclude []*regexp.Regexp
		want             []string
	}{
		{"none takes all", nil, nil, tags},
		{"unanchored", re("1"), nil, []string{"v1", "v1.0", "v10", "v1-rc"}},
		{"anchored", re("^v1$"), nil, []string{"v1"}},
		{"includes add up", re("^v1$", "^latest$"), nil, []string{"v1", "latest"}},
		{"exclude wins", re("^v1"), re("-rc$", `\.`), []string{"v1", "v10"}},
		{"exclude alone", nil, re("^v"), []string{"latest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := TagFilter{Include: tc.include, Exclude: tc.exclude}
			var got []string
			for _, tag := range tags {
				if f.Takes(tag) {
					got = append(got, tag)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("took %v, want %v", got, tc.want)
			}
		})
	}
}
