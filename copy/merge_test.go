package copy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	mlDockerImage = "application/vnd.docker.distribution.manifest.v2+json"
	mlDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// mlPushImage stores a single-platform Docker image (config, one layer,
// manifest) in repo and returns its list descriptor.
func mlPushImage(s *registrystub.Stub, repo, platform, seed string) imgspecv1.Descriptor {
	p, err := manifestlist.ParsePlatform(platform)
	if err != nil {
		panic(err)
	}
	cfg, _ := json.Marshal(map[string]any{"os": p.OS, "architecture": p.Architecture, "variant": p.Variant, "rootfs": map[string]any{"type": "layers"}})
	layer := []byte("layer of " + seed + " for " + platform)
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mlDockerImage,
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": s.PutBlob(repo, cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": s.PutBlob(repo, layer), "size": len(layer)}},
	})
	d := s.PutManifest(repo, "", mlDockerImage, m)
	return imgspecv1.Descriptor{MediaType: mlDockerImage, Digest: digest.Digest(d), Size: int64(len(m)), Platform: &p}
}

// mlPushList stores a Docker manifest list of descs as repo:tag, indented
// as `docker manifest push` writes it: bytes this project does not write, so
// a merge that re-serialised a list it should keep would change its digest.
func mlPushList(s *registrystub.Stub, repo, tag string, descs ...imgspecv1.Descriptor) digest.Digest {
	compact, err := (&manifestlist.List{MediaType: mlDockerList, Manifests: descs}).Serialize()
	if err != nil {
		panic(err)
	}
	var raw bytes.Buffer
	if err := json.Indent(&raw, compact, "", "   "); err != nil {
		panic(err)
	}
	return digest.Digest(s.PutManifest(repo, tag, mlDockerList, raw.Bytes()))
}

// mlSession reaches every host insecurely, as the plugin does for loopback.
func mlSession() *registry.Session {
	return registry.NewSession(func(string) (registry.Options, error) { return registry.Options{Insecure: true}, nil })
}

func mlRef(t *testing.T, host, s string) registry.Reference {
	t.Helper()
	r, err := registry.ParseReference(host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mlRequest is a merge of src into dst on host, through one session.
func mlRequest(t *testing.T, host, src, dst string) MergeRequest {
	sess := mlSession()
	req := MergeRequest{Source: mlRef(t, host, src), Destination: mlRef(t, host, dst), SourceSession: sess, DestinationSession: sess}
	req.Target = req.Destination
	return req
}

// mlHeld maps the platform of each entry of the list repo:tag holds to its
// digest.
func mlHeld(t *testing.T, s *registrystub.Stub, repo, tag string) map[string]digest.Digest {
	t.Helper()
	raw, ok := s.Manifest(repo, tag)
	if !ok {
		t.Fatalf("%s:%s does not exist", repo, tag)
	}
	l, err := manifestlist.ParseList(raw, manifestlist.MediaTypeOf(raw, ""))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]digest.Digest{}
	for _, m := range l.Manifests {
		out[manifestlist.FormatPlatform(m.Platform)] = m.Digest
	}
	return out
}

// mlFixture is the e2e suite's usual merge: DESTINATION app:v1 with four
// platforms, SOURCE srcRepo:build with new amd64 and arm64 images.
type mlFixture struct {
	dst, src map[string]imgspecv1.Descriptor
	dstList  digest.Digest
	srcList  digest.Digest
}

func mlPushFixture(s *registrystub.Stub, srcRepo string) mlFixture {
	f := mlFixture{dst: map[string]imgspecv1.Descriptor{}, src: map[string]imgspecv1.Descriptor{}}
	var dst, src []imgspecv1.Descriptor
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"} {
		f.dst[p] = mlPushImage(s, "app", p, "old")
		dst = append(dst, f.dst[p])
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		f.src[p] = mlPushImage(s, srcRepo, p, "new")
		src = append(src, f.src[p])
	}
	f.dstList = mlPushList(s, "app", "v1", dst...)
	f.srcList = mlPushList(s, srcRepo, "build", src...)
	return f
}

func (f mlFixture) merged() map[string]digest.Digest {
	return map[string]digest.Digest{
		"linux/amd64": f.src["linux/amd64"].Digest, "linux/arm64": f.src["linux/arm64"].Digest,
		"linux/arm/v7": f.dst["linux/arm/v7"].Digest, "linux/s390x": f.dst["linux/s390x"].Digest,
	}
}

func mlCheckHeld(t *testing.T, got, want map[string]digest.Digest) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("list holds %v, want %v", got, want)
	}
	for p, d := range want {
		if got[p] != d {
			t.Errorf("entry for %s is %q, want %s", p, got[p], d)
		}
	}
}

// TestMergeSameRepository: a 2-platform build merged into a 4-platform tag
// of the same repository is 4 requests: both reads, the check of the tag,
// the write.
func TestMergeSameRepository(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "app")
	req := mlRequest(t, s.Host, "app:build", "app:v1")
	res, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written || res.Replans != 0 {
		t.Errorf("written %v, replans %d", res.Written, res.Replans)
	}
	mlCheckHeld(t, mlHeld(t, s, "app", "v1"), f.merged())
	raw, _ := s.Manifest("app", "v1")
	if res.Digest != digest.FromBytes(raw) || res.Plan.Digest != res.Digest {
		t.Errorf("result %s, plan %s, the tag holds %s", res.Digest, res.Plan.Digest, digest.FromBytes(raw))
	}
	want := []string{"GET /v2/app/manifests/build", "GET /v2/app/manifests/v1", "HEAD /v2/app/manifests/v1", "PUT /v2/app/manifests/v1"}
	got := s.Requests()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := countActions(res.Plan.Manifests, actionInPlace); n != len(res.Plan.Manifests)-1 {
		t.Errorf("entries not in place within one repository: %+v", res.Plan.Manifests)
	}
	if res.Plan.MediaType != mlDockerList || res.Plan.Merge.MediaTypeReason != "DESTINATION's type" {
		t.Errorf("type %s (%s)", res.Plan.MediaType, res.Plan.Merge.MediaTypeReason)
	}
}

// TestMergeBringsEntries: SOURCE in another repository: its images are
// mounted into DESTINATION's before the list is written.
func TestMergeBringsEntries(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "ci")
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	req.Stats = &Stats{}
	res, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The list was written last.
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last != "PUT /v2/app/manifests/v1" {
		t.Errorf("last request %q, want the list's PUT:\n%s", last, strings.Join(reqs, "\n"))
	}
	mlCheckHeld(t, mlHeld(t, s, "app", "v1"), f.merged())
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if _, ok := s.Manifest("app", f.src[p].Digest.String()); !ok {
			t.Errorf("SOURCE's %s image was not brought into app", p)
		}
	}
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	for _, d := range f.src {
		raw, _ := s.Manifest("app", d.Digest.String())
		parsed, err := manifestlist.Parse(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range parsed.Blobs {
			if ok, err := c.BlobExists(context.Background(), "app", b.Digest); !ok || err != nil {
				t.Errorf("blob %s of %s missing from app: %v", b.Digest, d.Digest, err)
			}
		}
	}
	brought := 0
	for _, m := range res.Plan.Manifests {
		if m.Source != "" {
			brought++
			if m.Action != actionPut || m.Source != s.Host+"/ci" {
				t.Errorf("manifest %+v, want a put from %s/ci", m, s.Host)
			}
		}
	}
	if brought != 2 {
		t.Errorf("plan %+v, want the 2 SOURCE images brought", res.Plan.Manifests)
	}
	for _, b := range res.Plan.Blobs {
		if b.Action != actionMount {
			t.Errorf("blob %+v, want a mount", b)
		}
	}
	// The stub declines mounts (it opens an upload instead), so each blob
	// is asked for as a mount, then streamed.
	if n := s.Count("POST", "mount="); n != 4 {
		t.Errorf("%d mounts asked for, want 4 (a config and a layer per image)", n)
	}
	if counts, _ := req.Stats.Snapshot(); counts.Manifests != 3 || counts.Mounted+counts.Uploaded != 4 {
		t.Errorf("stats %+v, want 3 manifests (2 images, the list) and 4 blobs", counts)
	}
}

// TestMergeDryRun plans, reads, and writes nothing.
func TestMergeDryRun(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "ci")
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	req.DryRun = true
	res, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written {
		t.Error("a dry run says it wrote")
	}
	for _, r := range s.Requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("dry run sent %s", r)
		}
	}
	if d := mlHeld(t, s, "app", "v1"); d["linux/amd64"] != f.dst["linux/amd64"].Digest {
		t.Errorf("DESTINATION changed: %v", d)
	}
	actions := map[string]string{}
	for _, c := range res.Plan.Merge.Changes {
		actions[c.Platform] = c.Action
	}
	want := map[string]string{"linux/amd64": "replaced", "linux/arm64": "replaced", "linux/arm/v7": "kept", "linux/s390x": "kept"}
	if !maps.Equal(actions, want) {
		t.Errorf("plan %v, want %v", actions, want)
	}
	// The real merge then writes what was planned.
	req.DryRun = false
	real, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if real.Digest != res.Plan.Digest {
		t.Errorf("wrote %s, planned %s", real.Digest, res.Plan.Digest)
	}
}

// TestMergeUnchanged: when the result equals DESTINATION nothing is written,
// not even the entries.
func TestMergeUnchanged(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	mlPushFixture(s, "ci")
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	first, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	before := len(s.Requests())
	again, err := Merge(context.Background(), mlRequest(t, s.Host, "ci:build", "app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Written || !again.Plan.Unchanged || again.Digest != first.Digest {
		t.Errorf("second merge: written %v, unchanged %v, digest %s (first %s)", again.Written, again.Plan.Unchanged, again.Digest, first.Digest)
	}
	for _, r := range s.Requests()[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("unchanged merge sent %s", r)
		}
	}
}

// TestMergeUnchangedKeepsDestinationBytes: DESTINATION, as another tool
// wrote it, already is the merge's result: the merge writes nothing and
// reports DESTINATION's own digest, not that of the list re-serialised.
func TestMergeUnchangedKeepsDestinationBytes(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "ci")
	var done []imgspecv1.Descriptor
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		done = append(done, f.src[p])
	}
	for _, p := range []string{"linux/arm/v7", "linux/s390x"} {
		done = append(done, f.dst[p])
	}
	want := mlPushList(s, "app", "done", done...)
	before := len(s.Requests())
	res, err := Merge(context.Background(), mlRequest(t, s.Host, "ci:build", "app:done"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Written || !res.Plan.Unchanged || res.Digest != want {
		t.Errorf("merge: written %v, unchanged %v, digest %s; want DESTINATION's %s untouched", res.Written, res.Plan.Unchanged, res.Digest, want)
	}
	if raw, _ := s.Manifest("app", "done"); digest.FromBytes(raw) != want {
		t.Errorf("app:done holds %s, want %s", digest.FromBytes(raw), want)
	}
	for _, r := range s.Requests()[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("unchanged merge sent %s", r)
		}
	}
}

// TestMergeNoDestination: a DESTINATION that does not exist gets SOURCE's
// own bytes, so the list keeps SOURCE's digest.
func TestMergeNoDestination(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "app")
	res, err := Merge(context.Background(), mlRequest(t, s.Host, "app:build", "app:new"))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := s.Manifest("app", "new")
	if !ok || digest.FromBytes(raw) != f.srcList || res.Digest != f.srcList {
		t.Errorf("app:new holds %s (result %s), want SOURCE's %s", digest.FromBytes(raw), res.Digest, f.srcList)
	}
	if res.Plan.Merge.Destination != "" || !strings.Contains(res.Plan.Merge.MediaTypeReason, "SOURCE's type") {
		t.Errorf("plan destination %q, type reason %q", res.Plan.Merge.Destination, res.Plan.Merge.MediaTypeReason)
	}
}

// changeOnHead makes the stub, before it answers the n-th HEAD of repo:tag
// (the check right before the write), run change(n).
func changeOnHead(s *registrystub.Stub, repo, tag string, change func(n int)) {
	var mu sync.Mutex
	n := 0
	s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && r.URL.Path == "/v2/"+repo+"/manifests/"+tag {
			mu.Lock()
			n++
			change(n)
			mu.Unlock()
		}
		return false
	})
}

// TestMergeReplansWhenDestinationChanges: DESTINATION is pushed between the
// read and the write; the merge plans again on top of it, keeping the new
// entry, and writes once.
func TestMergeReplansWhenDestinationChanges(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "ci")
	ppc := mlPushImage(s, "app", "linux/ppc64le", "concurrent")
	var concurrent digest.Digest
	changeOnHead(s, "app", "v1", func(n int) {
		if n == 1 {
			concurrent = mlPushList(s, "app", "v1", f.dst["linux/amd64"], f.dst["linux/arm64"], f.dst["linux/arm/v7"], f.dst["linux/s390x"], ppc)
		}
	})
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	var log bytes.Buffer
	req.Log = &log
	res, err := Merge(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replans != 1 || !strings.Contains(log.String(), "changed while merging (now "+concurrent.String()+")") {
		t.Errorf("replans %d, log %q", res.Replans, log.String())
	}
	want := f.merged()
	want["linux/ppc64le"] = ppc.Digest
	mlCheckHeld(t, mlHeld(t, s, "app", "v1"), want)
	if n := s.Count("PUT", "/v2/app/manifests/v1"); n != 1 {
		t.Errorf("%d PUTs of the tag, want 1", n)
	}
	if n := s.Count("HEAD", "/v2/app/manifests/v1"); n != 2 {
		t.Errorf("%d HEADs of the tag, want one per plan (2)", n)
	}
}

// TestMergeKeepsChanging: DESTINATION changes before every write; the merge
// gives up after its attempts and writes no list.
func TestMergeKeepsChanging(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	f := mlPushFixture(s, "ci")
	var last digest.Digest
	changeOnHead(s, "app", "v1", func(n int) {
		ppc := mlPushImage(s, "app", "linux/ppc64le", "change "+string(rune('0'+n)))
		last = mlPushList(s, "app", "v1", f.dst["linux/amd64"], ppc)
	})
	req := mlRequest(t, s.Host, "ci:build", "app:v1")
	req.Attempts = 2
	_, err := Merge(context.Background(), req)
	if !errors.Is(err, ErrKeptChanging) || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("error %v, want ErrKeptChanging", err)
	}
	if n := s.Count("PUT", "/v2/app/manifests/v1"); n != 0 {
		t.Errorf("the list was written although DESTINATION kept changing")
	}
	if n := s.Count("HEAD", "/v2/app/manifests/v1"); n != 2 {
		t.Errorf("%d checks of the tag, want 2 (one per attempt)", n)
	}
	if raw, _ := s.Manifest("app", "v1"); digest.FromBytes(raw) != last {
		t.Errorf("tag is %s, the last concurrent push was %s", digest.FromBytes(raw), last)
	}
}

// TestMergeMatchArch: with --match arch, SOURCE's linux/amd64 replaces
// DESTINATION's linux/amd64 and windows/amd64, and the plan says so.
func TestMergeMatchArch(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	linux, windows, s390x := mlPushImage(s, "app", "linux/amd64", "old"), mlPushImage(s, "app", "windows/amd64", "old"), mlPushImage(s, "app", "linux/s390x", "old")
	mlPushList(s, "app", "v1", linux, windows, s390x)
	newLinux := mlPushImage(s, "app", "linux/amd64", "new")
	mlPushList(s, "app", "build", newLinux)
	for name, tc := range map[string]struct {
		match manifestlist.MatchMode
		want  map[string]digest.Digest
	}{
		"platform": {match: manifestlist.MatchPlatform, want: map[string]digest.Digest{"linux/amd64": newLinux.Digest, "windows/amd64": windows.Digest, "linux/s390x": s390x.Digest}},
		"arch":     {match: manifestlist.MatchArch, want: map[string]digest.Digest{"linux/amd64": newLinux.Digest, "linux/s390x": s390x.Digest}},
	} {
		t.Run(name, func(t *testing.T) {
			req := mlRequest(t, s.Host, "app:build", "app:v1")
			req.Rules.Match, req.DryRun = tc.match, true
			res, err := Merge(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			replaced := map[string]digest.Digest{}
			for _, c := range res.Plan.Merge.Changes {
				if c.Action == "replaced" {
					p := c.Platform
					if c.OldPlatform != "" {
						p = c.OldPlatform
					}
					replaced[p] = c.Old
				}
			}
			if tc.match == manifestlist.MatchArch && (replaced["linux/amd64"] != linux.Digest || replaced["windows/amd64"] != windows.Digest || len(replaced) != 2) {
				t.Errorf("plan replaces %v, want linux/amd64 and windows/amd64", replaced)
			}
			if tc.match == manifestlist.MatchPlatform && len(replaced) != 1 {
				t.Errorf("plan replaces %v, want linux/amd64 alone", replaced)
			}
			req.DryRun = false
			if _, err := Merge(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			mlCheckHeld(t, mlHeld(t, s, "app", "v1"), tc.want)
			mlPushList(s, "app", "v1", linux, windows, s390x) // back, for the next case
		})
	}
}

// TestReadList: a list is read as it is; a single image becomes a list of
// one entry with the platform of its config; a missing reference is nil for
// ReadListIfExists and ErrNotFound for ReadList.
func TestReadList(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	arm := mlPushImage(s, "app", "linux/arm/v7", "x")
	amd := mlPushImage(s, "app", "linux/amd64", "x")
	raw, _ := s.Manifest("app", arm.Digest.String())
	s.PutManifest("app", "arm", mlDockerImage, raw)
	listDigest := mlPushList(s, "app", "v1", arm, amd)
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	ctx := context.Background()

	single, err := ReadList(ctx, c, mlRef(t, s.Host, "app:arm"))
	if err != nil {
		t.Fatal(err)
	}
	if single.Single == nil || single.List.MediaType != mlDockerList || len(single.List.Manifests) != 1 ||
		manifestlist.FormatPlatform(single.List.Manifests[0].Platform) != "linux/arm/v7" || single.Digest != arm.Digest {
		t.Errorf("single image read as %+v", single.List)
	}
	list, err := ReadList(ctx, c, mlRef(t, s.Host, "app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if list.Single != nil || list.Digest != listDigest || len(list.List.Manifests) != 2 || list.MediaType != mlDockerList {
		t.Errorf("list read as %+v", list)
	}
	if _, err := ReadList(ctx, c, mlRef(t, s.Host, "app:nope")); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if r, err := ReadListIfExists(ctx, c, mlRef(t, s.Host, "app:nope")); r != nil || err != nil {
		t.Errorf("ReadListIfExists of a missing tag: %v, %v", r, err)
	}

	srcs, err := FetchSources(ctx, mlSession(), []registry.Reference{mlRef(t, s.Host, "app:v1"), mlRef(t, s.Host, "app:arm")})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs[0].Entries) != 2 || srcs[0].Entries[1].Descriptor.Digest != amd.Digest || digest.FromBytes(srcs[0].Entries[1].Raw) != amd.Digest ||
		srcs[0].Entries[1].Source != s.Host+"/app@"+amd.Digest.String() {
		t.Errorf("list source entries %+v", srcs[0].Entries)
	}
	if len(srcs[1].Entries) != 1 || srcs[1].Single == nil {
		t.Errorf("single source entries %+v", srcs[1].Entries)
	}
}
