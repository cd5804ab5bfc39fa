package copy

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseTags(t *testing.T) {
	dst := registry.Reference{Host: "r.test:5000", Repository: "team/app", Tag: "1.0"}
	ref := func(repo, tag string) registry.Reference {
		return registry.Reference{Host: "r.test:5000", Repository: repo, Tag: tag}
	}
	tests := []struct {
		values []string
		want   []registry.Reference
		err    string
	}{
		{values: []string{"1.1", "latest"}, want: []registry.Reference{ref("team/app", "1.1"), ref("team/app", "latest")}},
		{values: []string{"r.test:5000/team/other:1.0"}, want: []registry.Reference{ref("team/other", "1.0")}},
		// The destination's own tag, and a tag named twice (bare and in
		// full), are written once.
		{values: []string{"1.0", "1.1", "r.test:5000/team/app:1.1", "r.test:5000/team/app:1.0"}, want: []registry.Reference{ref("team/app", "1.1")}},
		{values: []string{"other.test/team/app:1.0"}, err: `"other.test/team/app:1.0": it names registry other.test`},
		{values: []string{".hidden"}, err: `invalid tag ".hidden"`},
		{values: []string{strings.Repeat("a", 129)}, err: "invalid tag"},
		{values: []string{"r.test:5000/team/app"}, err: "names its tag"},
		{values: []string{"r.test:5000/team/app@sha256:" + strings.Repeat("a", 64)}, err: "names its tag"},
		{values: []string{"r.test:5000/Team/app:1"}, err: "invalid tag"},
		// A reference that does not parse says what a tag may be, too.
		{values: []string{":x"}, err: `invalid tag ":x": a tag is up to 128`},
		{values: []string{"r.test:5000/Team/app:1"}, err: "or a full reference REGISTRY/REPOSITORY:TAG"},
	}
	for _, tc := range tests {
		got, err := ParseTags(dst, tc.values)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one saying %q", tc.values, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.values, err)
		case tc.err == "" && !equalRefs(got, tc.want):
			t.Errorf("%q: %+v, want %+v", tc.values, got, tc.want)
		}
	}
}

func equalRefs(a, b []registry.Reference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tagActions is each tag's action, by tag.
func tagActions(tags []TagWrite) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		out[t.Tag] = t.Action()
	}
	return out
}

// TestCopyExtraTags: a copy with extra tags plans every tag (new, moved,
// unchanged, in another repository) in its one plan; the dry run's
// requests are the run's; every tag then holds the copy, the other
// repository with everything below it; a copy again writes nothing.
func TestCopyExtraTags(t *testing.T) {
	for _, same := range []bool{true, false} {
		name := "across registries"
		if same {
			name = "within a registry"
		}
		t.Run(name, func(t *testing.T) {
			src := newStubRegistry(t)
			dst := src
			if !same {
				dst = newStubRegistry(t)
			}
			images := []testImage{src.pushImage("app", "amd64", []byte("a"), []byte("shared")), src.pushImage("app", "arm64", []byte("b"))}
			list := digest.FromBytes(src.pushIndex("app", "v1", images, nil))
			// mirror:keep holds the list already, mirror:old another image.
			if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "keep", Options{}, nil); err != nil {
				t.Fatal(err)
			}
			other := dst.pushImage("mirror", "amd64", []byte("other"))
			dst.putManifest("mirror", "old", imgspecv1.MediaTypeImageManifest, other.raw)
			h := dst.host()
			tags := []registry.Reference{{Host: h, Repository: "mirror", Tag: "keep"}, {Host: h, Repository: "mirror", Tag: "old"},
				{Host: h, Repository: "mirror", Tag: "new"}, {Host: h, Repository: "other", Tag: "x"}, {Host: h, Repository: "other", Tag: "y"}}
			resetRequests(src, dst)
			dry, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{DryRun: true, Tags: tags}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{h + "/mirror:v1": "written", h + "/mirror:keep": "unchanged", h + "/mirror:old": "moved",
				h + "/mirror:new": "written", h + "/other:x": "written", h + "/other:y": "written"}
			if got := tagActions(dry.Plan.Tags); !maps.Equal(got, want) {
				t.Errorf("tags %v, want %v", got, want)
			}
			if len(dst.requestsMatching("PUT", "")) != 0 {
				t.Fatal("the dry run wrote")
			}
			resetRequests(src, dst)
			res, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{Tags: tags}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := count(src, dst); got != dry.Plan.Requests || got != res.Plan.Requests {
				t.Errorf("the dry run planned %d requests, the run's plan %d, the copy made %d:\n%s", dry.Plan.Requests, res.Plan.Requests, got, requestLog(src, dst))
			}
			// One tag PUT per tag that changes, nothing for keep.
			if puts := dst.requestsMatching("PUT", "/manifests/keep"); len(puts) != 0 {
				t.Errorf("keep, which held the list, was put %d times", len(puts))
			}
			for _, tw := range []string{"mirror:v1", "mirror:old", "mirror:new", "mirror:keep", "other:x", "other:y"} {
				repo, tag, _ := strings.Cut(tw, ":")
				if m, ok := dst.manifest(repo, tag); !ok || digest.FromBytes(m.raw) != list {
					t.Errorf("%s does not hold %s", tw, list)
				}
			}
			for _, img := range images {
				if _, ok := dst.manifest("other", img.digest.String()); !ok {
					t.Errorf("other lacks entry %s", img.digest)
				}
			}
			resetRequests(src, dst)
			again, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{Tags: tags}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Plan.Unchanged || len(dst.requestsMatching("PUT", ""))+len(dst.requestsMatching("POST", "")) != 0 || count(src, dst) != again.Plan.Requests {
				t.Errorf("copy again: unchanged %v, planned %d, made:\n%s", again.Plan.Unchanged, again.Plan.Requests, requestLog(src, dst))
			}
			// Again with one more tag: the copy's own tag holds it, the new
			// tag is the one write.
			later := append(tags, registry.Reference{Host: h, Repository: "other", Tag: "later"})
			resetRequests(src, dst)
			dry, err = Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{DryRun: true, Tags: later}, nil)
			if err != nil {
				t.Fatal(err)
			}
			resetRequests(src, dst)
			if _, err := Copy(context.Background(), src.endpoint("app"), "v1", dst.endpoint("mirror"), "v1", Options{Tags: later}, nil); err != nil {
				t.Fatal(err)
			}
			if got := count(src, dst); dry.Plan.Unchanged || got != dry.Plan.Requests || len(dst.requestsMatching("PUT", "/manifests/later")) != 1 {
				t.Errorf("a tag more: unchanged %v, planned %d, made %d:\n%s", dry.Plan.Unchanged, dry.Plan.Requests, got, requestLog(src, dst))
			}
			if m, ok := dst.manifest("other", "later"); !ok || digest.FromBytes(m.raw) != list {
				t.Errorf("other:later does not hold %s", list)
			}
		})
	}
}

// TestPushExtraTagOtherRepository: a push whose entries live in the target
// repository (in place, never read by the push itself) tags another
// repository too: the entries are read from the target and mounted, in
// the requests the dry run predicts.
func TestPushExtraTagOtherRepository(t *testing.T) {
	s := newStubRegistry(t)
	a, b := s.pushImage("app", "amd64", []byte("a")), s.pushImage("app", "arm64", []byte("b"))
	var entries []manifestlist.Entry
	l := manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex}
	for i, img := range []testImage{a, b} {
		d := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: img.digest, Size: int64(len(img.raw)),
			Platform: &imgspecv1.Platform{OS: "linux", Architecture: testArches[i]}}
		entries = append(entries, manifestlist.Entry{Source: s.host() + "/app@" + img.digest.String(), Descriptor: d})
		l.Manifests = append(l.Manifests, d)
	}
	raw, err := l.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	target := mlRef(t, s.host(), "app:v1")
	tags, err := ParseTags(target, []string{"v1.0", s.host() + "/release:v1"})
	if err != nil {
		t.Fatal(err)
	}
	req := func(dry bool) PushRequest {
		return PushRequest{Session: mlSession(), Target: target, Raw: raw, MediaType: l.MediaType, Entries: entries, Tags: tags, DryRun: dry}
	}
	resetRequests(s)
	dry, err := PlanPush(context.Background(), req(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Tags) != 3 || dry.Tags[2].Tag != s.host()+"/release:v1" || dry.Tags[2].Action() != "written" {
		t.Errorf("tags %+v, want app:v1, app:v1.0 and release:v1 written", dry.Tags)
	}
	if n := countRepository(dry, "release"); n != 1+2+4 {
		t.Errorf("plan has %d manifests and blobs for release, want the list, its 2 entries and their 4 blobs:\n%+v\n%+v", n, dry.Manifests, dry.Blobs)
	}
	resetRequests(s)
	run, err := PlanPush(context.Background(), req(false))
	if err == nil {
		err = Execute(context.Background(), run)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := count(s); got != dry.Requests || got != run.Requests {
		t.Errorf("the dry run planned %d requests, the run's plan %d, the push made %d:\n%s", dry.Requests, run.Requests, got, requestLog(s))
	}
	for _, ref := range []string{"app:v1", "app:v1.0", "release:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		if m, ok := s.manifest(repo, tag); !ok || digest.FromBytes(m.raw) != digest.FromBytes(raw) {
			t.Errorf("%s does not hold the list", ref)
		}
	}
}

// countRepository counts the manifests and blobs a plan writes to repo.
func countRepository(p *Plan, repo string) int {
	n := 0
	for _, m := range p.Manifests {
		if strings.HasSuffix(m.Repository, "/"+repo) {
			n++
		}
	}
	for _, b := range p.Blobs {
		if strings.HasSuffix(b.Repository, "/"+repo) {
			n++
		}
	}
	return n
}

// TestMergeExtraTags: a merge writes its result under its extra tags too,
// in the requests its dry run predicts.
func TestMergeExtraTags(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	a := src.pushImage("ci", "amd64", []byte("a"))
	src.pushIndex("ci", "build", []testImage{a}, nil)
	kept := dst.pushImage("app", "arm64", []byte("b"))
	dst.pushIndex("app", "v1", []testImage{dst.pushImage("app", "amd64", []byte("old")), kept}, nil)
	req := func(dry bool) MergeRequest {
		sess := mlSession()
		r := MergeRequest{Source: mlRef(t, src.host(), "ci:build"), Destination: mlRef(t, dst.host(), "app:v1"), SourceSession: sess, DestinationSession: sess, DryRun: dry,
			Tags: []registry.Reference{mlRef(t, dst.host(), "app:latest"), mlRef(t, dst.host(), "stable:v1")}}
		r.Target = r.Destination
		return r
	}
	resetRequests(src, dst)
	dry, err := Merge(context.Background(), req(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Plan.Tags) != 3 {
		t.Errorf("tags %+v, want app:v1, app:latest and stable:v1", dry.Plan.Tags)
	}
	resetRequests(src, dst)
	res, err := Merge(context.Background(), req(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := count(src, dst); got != dry.Plan.Requests {
		t.Errorf("the dry run planned %d requests, the merge made %d:\n%s", dry.Plan.Requests, got, requestLog(src, dst))
	}
	for _, ref := range []string{"app:v1", "app:latest", "stable:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		if m, ok := dst.manifest(repo, tag); !ok || digest.FromBytes(m.raw) != res.Digest {
			t.Errorf("%s does not hold %s", ref, res.Digest)
		}
	}
}

// TestExtraTagsAfterTheMainTag: a push's -t tags are put only once its own
// tag has been answered, so no extra tag names a list the main one does
// not yet (the main tag's PUT is held; an extra PUT arriving meanwhile
// fails the test).
func TestExtraTagsAfterTheMainTag(t *testing.T) {
	s := newStubRegistry(t)
	a := s.pushImage("app", "amd64", []byte("a"))
	d := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: a.digest, Size: int64(len(a.raw)),
		Platform: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}}
	l := manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{d}}
	raw, err := l.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	target := mlRef(t, s.host(), "app:v1")
	tags, err := ParseTags(target, []string{"1", "latest"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	mainDone := false
	var early []string
	s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		if strings.HasSuffix(r.URL.Path, "/manifests/v1") {
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			mainDone = true
			mu.Unlock()
			return false
		}
		mu.Lock()
		if !mainDone {
			early = append(early, r.URL.Path)
		}
		mu.Unlock()
		return false
	})
	entries := []manifestlist.Entry{{Source: s.host() + "/app@" + a.digest.String(), Descriptor: d}}
	p, err := PlanPush(context.Background(), PushRequest{Session: mlSession(), Target: target, Raw: raw, MediaType: l.MediaType, Entries: entries, Tags: tags})
	if err == nil {
		err = Execute(context.Background(), p)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(early) > 0 {
		t.Errorf("extra tags put before app:v1 was answered: %s", early)
	}
	for _, ref := range []string{"v1", "1", "latest"} {
		if _, ok := s.manifest("app", ref); !ok {
			t.Errorf("app:%s was not written", ref)
		}
	}
}
