package copy

import (
	"context"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// count is how many requests the stubs have recorded.
func count(stubs ...*stubRegistry) int {
	n := 0
	for i, s := range stubs {
		if i > 0 && s == stubs[0] {
			continue
		}
		n += len(s.Log())
	}
	return n
}

// log lists the requests the stubs recorded from the from-th on (of each).
func requestLog(stubs ...*stubRegistry) string {
	var out []string
	for i, s := range stubs {
		if i > 0 && s == stubs[0] {
			continue
		}
		for _, r := range s.Log() {
			out = append(out, r.Method+" "+r.Path+"?"+r.Query)
		}
	}
	return strings.Join(out, "\n")
}

func resetRequests(stubs ...*stubRegistry) {
	for _, s := range stubs {
		s.ResetLog()
	}
}

// TestCopyPlanRequests: a dry run's requests are exactly the requests the
// copy then makes (its reads and writes together), within a registry and
// across, into a new repository and an existing one; and its tag write
// names what the tag held and what it gets.
func TestCopyPlanRequests(t *testing.T) {
	type fixture struct {
		src, dst *stubRegistry
		list     digest.Digest
		images   []testImage
	}
	setup := func(t *testing.T, same bool) fixture {
		f := fixture{src: newStubRegistry(t)}
		f.dst = f.src
		if !same {
			f.dst = newStubRegistry(t)
		}
		f.images = []testImage{f.src.pushImage("app", "amd64", []byte("layer a"), []byte("shared")), f.src.pushImage("app", "arm64", []byte("layer b"), []byte("shared"))}
		f.list = digest.FromBytes(f.src.pushIndex("app", "v1", f.images, nil))
		return f
	}
	tests := map[string]struct {
		same bool
		// prepare the destination; it returns what its tag held.
		prepare func(f fixture) digest.Digest
		opts    Options
	}{
		"within a registry, new repository": {same: true},
		"across registries, new repository": {},
		"across registries, a tag that moves, one image there": {prepare: func(f fixture) digest.Digest {
			other := f.dst.pushImage("mirror", "amd64", []byte("other"))
			f.dst.pushImage("mirror", "amd64", []byte("layer a"), []byte("shared")) // the first image, blobs and all
			raw := f.dst.pushIndex("mirror", "v1", []testImage{other}, nil)
			return digest.FromBytes(raw)
		}},
		"across registries, --platform, one blob there": {opts: Options{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "arm64"}}}, prepare: func(f fixture) digest.Digest {
			f.dst.putBlob("mirror", []byte("shared"))
			f.dst.pushIndex("mirror", "old", []testImage{f.dst.pushImage("mirror", "amd64", []byte("x"))}, nil)
			return ""
		}},
		"the tag holds it already": {prepare: func(f fixture) digest.Digest {
			for _, img := range f.images {
				f.dst.pushImage("mirror", "amd64", []byte("layer "+string("ab"[0])), []byte("shared"))
				f.dst.putManifest("mirror", img.digest.String(), imgspecv1.MediaTypeImageManifest, img.raw)
			}
			raw, _ := f.src.manifest("app", "v1")
			f.dst.putManifest("mirror", "v1", imgspecv1.MediaTypeImageIndex, raw.raw)
			return digest.FromBytes(raw.raw)
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := setup(t, tc.same)
			var held digest.Digest
			if tc.prepare != nil {
				held = tc.prepare(f)
			}
			resetRequests(f.src, f.dst)
			dry := tc.opts
			dry.DryRun = true
			res, err := Copy(context.Background(), f.src.endpoint("app"), "v1", f.dst.endpoint("mirror"), "v1", dry, nil)
			if err != nil {
				t.Fatal(err)
			}
			plan := res.Plan
			if len(plan.Tags) != 1 || plan.Tags[0].Old != held || plan.Tags[0].New != plan.Digest || plan.Tags[0].Tag != f.dst.host()+"/mirror:v1" {
				t.Errorf("tag writes %+v, want %s/mirror:v1 from %q to %s", plan.Tags, f.dst.host(), held, plan.Digest)
			}
			if plan.Unchanged != (held == plan.Digest) {
				t.Errorf("unchanged %v, the tag held %s, the plan writes %s", plan.Unchanged, held, plan.Digest)
			}
			resetRequests(f.src, f.dst)
			res, err = Copy(context.Background(), f.src.endpoint("app"), "v1", f.dst.endpoint("mirror"), "v1", tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := count(f.src, f.dst); got != plan.Requests {
				t.Errorf("the dry run planned %d requests, the copy made %d:\n%s", plan.Requests, got, requestLog(f.src, f.dst))
			}
			// A run's own plan is the same prediction: it makes the blob
			// HEADs the run would, and counts them.
			if got := count(f.src, f.dst); res.Plan.Requests != got {
				t.Errorf("the run's plan predicted %d requests, it made %d", res.Plan.Requests, got)
			}
			if m, ok := f.dst.manifest("mirror", "v1"); !ok || digest.FromBytes(m.raw) != plan.Digest {
				t.Errorf("mirror:v1 does not hold %s", plan.Digest)
			}
		})
	}
}

// TestPushPlanRequests: a push's dry run predicts exactly the requests the
// push makes; a push whose tag holds the list already reads the tag and
// writes nothing.
func TestPushPlanRequests(t *testing.T) {
	for _, cross := range []bool{false, true} {
		name := "within a registry"
		if cross {
			name = "across registries"
		}
		t.Run(name, func(t *testing.T) {
			src := newStubRegistry(t)
			dst := src
			if cross {
				dst = newStubRegistry(t)
			}
			a, b := src.pushImage("img", "amd64", []byte("a"), []byte("shared")), src.pushImage("img", "arm64", []byte("b"), []byte("shared"))
			inPlace := dst.pushImage("app", "s390x", []byte("c"))
			var entries []manifestlist.Entry
			for i, img := range []testImage{a, b, inPlace} {
				repo, host := "img", src.host()
				if i == 2 {
					repo, host = "app", dst.host()
				}
				entries = append(entries, manifestlist.Entry{Source: host + "/" + repo + "@" + img.digest.String(), Raw: img.raw,
					Descriptor: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: img.digest, Size: int64(len(img.raw)),
						Platform: &imgspecv1.Platform{OS: "linux", Architecture: testArches[[]int{0, 1, 2}[i]]}}})
			}
			l := manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex}
			for _, e := range entries {
				l.Manifests = append(l.Manifests, e.Descriptor)
			}
			raw, err := l.Serialize()
			if err != nil {
				t.Fatal(err)
			}
			dst.pushIndex("app", "v1", []testImage{inPlace}, nil) // the tag moves
			old, _ := dst.manifest("app", "v1")
			target, _ := registry.ParseReference(dst.host() + "/app:v1")
			req := func(dry bool) PushRequest {
				return PushRequest{Session: mlSession(), Target: target, Raw: raw, MediaType: l.MediaType, Entries: entries, Tags: []registry.Reference{{Host: target.Host, Repository: "app", Tag: "v1.0"}}, DryRun: dry}
			}
			resetRequests(src, dst)
			plan, err := PlanPush(context.Background(), req(true))
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Tags) != 2 || plan.Tags[0].Old != digest.FromBytes(old.raw) || plan.Tags[0].New != digest.FromBytes(raw) || plan.Tags[1].Old != "" {
				t.Errorf("tags %+v, want v1 moved from %s and v1.0 new", plan.Tags, digest.FromBytes(old.raw))
			}
			resetRequests(src, dst)
			run, err := PlanPush(context.Background(), req(false))
			if err == nil {
				err = Execute(context.Background(), run)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := count(src, dst); got != plan.Requests || got != run.Requests {
				t.Errorf("the dry run planned %d requests, the run's plan %d, the push made %d:\n%s", plan.Requests, run.Requests, got, requestLog(src, dst))
			}
			// Again: the tags hold it: the probe of the repository (two
			// entries live elsewhere), a HEAD of each tag, nothing written.
			resetRequests(src, dst)
			again, err := PlanPush(context.Background(), req(false))
			if err == nil {
				err = Execute(context.Background(), again)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !again.Unchanged || again.Requests != 3 || count(src, dst) != 3 || len(dst.requestsMatching("PUT", "")) != 0 {
				t.Errorf("push again: unchanged %v, planned %d requests, made:\n%s", again.Unchanged, again.Requests, requestLog(src, dst))
			}
		})
	}
}

// TestMergePlanRequests: a merge's dry run predicts exactly the requests
// the merge makes, entries brought from another registry included.
func TestMergePlanRequests(t *testing.T) {
	src, dst := newStubRegistry(t), newStubRegistry(t)
	a := src.pushImage("ci", "amd64", []byte("a"), []byte("shared"))
	src.pushIndex("ci", "build", []testImage{a}, nil)
	kept := dst.pushImage("app", "arm64", []byte("b"))
	replaced := dst.pushImage("app", "amd64", []byte("old"))
	dst.pushIndex("app", "v1", []testImage{replaced, kept}, nil)
	old, _ := dst.manifest("app", "v1")
	req := func(dry bool) MergeRequest {
		sess := mlSession()
		r := MergeRequest{Source: mlRef(t, src.host(), "ci:build"), Destination: mlRef(t, dst.host(), "app:v1"), SourceSession: sess, DestinationSession: sess, DryRun: dry}
		r.Target = r.Destination
		return r
	}
	resetRequests(src, dst)
	dry, err := Merge(context.Background(), req(true))
	if err != nil {
		t.Fatal(err)
	}
	plan := dry.Plan
	if len(plan.Tags) != 1 || plan.Tags[0].Old != digest.FromBytes(old.raw) || plan.Tags[0].New != plan.Digest {
		t.Errorf("tags %+v, want app:v1 moved from %s", plan.Tags, digest.FromBytes(old.raw))
	}
	resetRequests(src, dst)
	res, err := Merge(context.Background(), req(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := count(src, dst); got != plan.Requests || got != res.Plan.Requests || res.Digest != plan.Digest {
		t.Errorf("the dry run planned %d requests and %s, the run's plan %d; the merge made %d and wrote %s:\n%s", plan.Requests, plan.Digest, res.Plan.Requests, got, res.Digest, requestLog(src, dst))
	}
}

// TestPlanBelowPresent: what is below a manifest the destination holds is
// planned as present, not put (the copy writes none of it).
func TestPlanBelowPresent(t *testing.T) {
	s := newStubRegistry(t)
	images := []testImage{s.pushImage("app", "amd64", []byte("a")), s.pushImage("app", "arm64", []byte("b"))}
	s.pushIndex("app", "v1", images, nil)
	res, err := Copy(context.Background(), s.endpoint("app"), "v1", s.endpoint("app"), "v2", Options{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := countActions(res.Plan.Manifests, actionPresent); n != 3 || len(res.Plan.Manifests) != 3 {
		t.Errorf("plan %+v, want the list and its 2 images present", res.Plan.Manifests)
	}
	if len(res.Plan.Tags) != 1 || res.Plan.Tags[0].Old != "" || res.Plan.Unchanged {
		t.Errorf("tags %+v, unchanged %v: want v2 written", res.Plan.Tags, res.Plan.Unchanged)
	}
}
