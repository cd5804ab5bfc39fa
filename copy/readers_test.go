package copy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// readerFixture is a list img:v1 of two images in one registry, and what
// each source form reads it as: the registry reference, a draft of its
// entries (named like a tag of another repository), and an OCI layout
// holding a copy.
type readerFixture struct {
	src, dst *registrystub.Stub
	images   []imgspecv1.Descriptor
	list     digest.Digest
	inputs   map[string]Input
	// digests are what each source form names (a draft's list is its own).
	digests map[string]digest.Digest
}

func newReaderFixture(t *testing.T) readerFixture {
	t.Helper()
	ctx := context.Background()
	f := readerFixture{src: registrystub.Start(t, registrystub.Options{}), dst: registrystub.Start(t, registrystub.Options{}),
		inputs: map[string]Input{}, digests: map[string]digest.Digest{}}
	f.images = []imgspecv1.Descriptor{mlPushImage(f.src, "img", "linux/amd64", "r"), mlPushImage(f.src, "img", "linux/arm64", "r")}
	f.list = mlPushList(f.src, "img", "v1", f.images...)

	reg, err := Resolve(f.src.Host+"/img:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.inputs["registry"], f.digests["registry"] = reg, f.list

	o, err := Open(ctx, reg, Readers{Session: mlSession()}, false)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := o.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := manifestlist.NewStore(t.TempDir())
	if err := store.Save(&manifestlist.Draft{Name: f.src.Host + "/draft:v1", MediaType: "oci", Entries: entries}); err != nil {
		t.Fatal(err)
	}
	draft, err := Resolve(f.src.Host+"/draft:v1", store)
	if err != nil || draft.Draft == nil {
		t.Fatalf("resolve the draft: %+v, %v", draft, err)
	}
	raw, _, err := draft.Draft.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	f.inputs["draft"], f.digests["draft"] = draft, digest.FromBytes(raw)

	layout := "oci:" + filepath.Join(t.TempDir(), "layout") + ":v1"
	loc, _ := ParseLocation(layout)
	c := registry.New(f.src.Host, nil, registry.Options{Insecure: true})
	if _, err := CopySides(ctx, Side{Endpoint: &Endpoint{Client: c, Repository: "img"}, Ref: "v1"}, Side{Local: &loc}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if f.inputs["oci"], err = Resolve(layout, nil); err != nil {
		t.Fatal(err)
	}
	f.digests["oci"] = f.list
	return f
}

// requests counts what both registries were asked.
func (f readerFixture) requests() int { return len(f.src.Requests()) + len(f.dst.Requests()) }

// TestCopyFromEachSource: copy reads SOURCE in every form Resolve finds
// (registry, draft, layout) and writes it whole to a registry or a layout:
// the destination holds what SOURCE names, every entry with its blobs; a
// dry run's requests are exactly those of the run.
func TestCopyFromEachSource(t *testing.T) {
	for _, source := range []string{"registry", "draft", "oci"} {
		for _, dest := range []string{"registry", "oci"} {
			t.Run(source+" to "+dest, func(t *testing.T) {
				ctx := context.Background()
				f := newReaderFixture(t)
				in := f.inputs[source]
				dst, _ := ParseLocation(f.dst.Host + "/mirror:v1")
				if dest == "oci" {
					dst, _ = ParseLocation("oci:" + filepath.Join(t.TempDir(), "out") + ":v1")
				}
				plan := func(dry bool) *Plan {
					sess := mlSession()
					p, err := PlanCopyFrom(ctx, in, dst, sess, sess, Options{DryRun: dry}, nil)
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
				// Into a layout, twice: the second finds the blobs there.
				var dry, run *Plan
				times := 1
				if dest == "oci" {
					times = 2
				}
				for range times {
					before := f.requests()
					dry = plan(true)
					between := f.requests()
					run = plan(false)
					if err := Execute(ctx, run); err != nil {
						t.Fatal(err)
					}
					run.Close()
					if got := f.requests() - between; got != dry.Requests || got != run.Requests {
						t.Errorf("the dry run planned %d requests, the run's plan %d, the copy made %d:\n%s", dry.Requests, run.Requests, got, strings.Join(append(f.src.Requests()[before:], f.dst.Requests()...), "\n"))
					}
				}
				want := f.digests[source]
				if dry.Digest != want || run.Digest != want || dry.SourceDigest != want || dry.Draft != (source == "draft") {
					t.Errorf("plans write %s and %s (draft %v), want %s", dry.Digest, run.Digest, dry.Draft, want)
				}
				if dest == "oci" {
					out, _ := Resolve(dst.String(), nil)
					o, err := Open(ctx, out, Readers{}, false)
					if err != nil {
						t.Fatal(err)
					}
					defer o.Close()
					if o.Digest != want {
						t.Errorf("the layout holds %s, want %s", o.Digest, want)
					}
					rep, err := o.Verify(ctx, Readers{}, VerifyOptions{Deep: true})
					if err != nil || !rep.OK() {
						t.Errorf("the layout verifies with %+v, %v", rep, err)
					}
					return
				}
				if raw, ok := f.dst.Manifest("mirror", "v1"); !ok || digest.FromBytes(raw) != want {
					t.Errorf("mirror:v1 does not hold %s", want)
				}
				for _, img := range f.images {
					if _, ok := f.dst.Manifest("mirror", img.Digest.String()); !ok {
						t.Errorf("entry %s not in mirror", img.Digest)
					}
				}
			})
		}
	}
}

// TestMergeFromEachSource: merge reads SOURCE in every form Resolve finds:
// the result holds SOURCE's platforms beside DESTINATION's, the entries
// from SOURCE are brought into the target repository (blobs included),
// and a dry run's requests are exactly those of the run.
func TestMergeFromEachSource(t *testing.T) {
	for _, source := range []string{"registry", "draft", "oci"} {
		t.Run(source, func(t *testing.T) {
			ctx := context.Background()
			f := newReaderFixture(t)
			kept := mlPushImage(f.dst, "app", "linux/s390x", "d")
			mlPushList(f.dst, "app", "v1", kept)
			in := f.inputs[source]
			req := func(dry bool) MergeRequest {
				sess := mlSession()
				r := MergeRequest{SourceInput: &in, Destination: mlRef(t, f.dst.Host, "app:v1"), SourceSession: sess, DestinationSession: sess, DryRun: dry}
				if in.Draft == nil && in.Location.Registry != nil {
					r.Source = *in.Location.Registry
				}
				r.Target = r.Destination
				return r
			}
			dry, err := Merge(ctx, req(true))
			if err != nil {
				t.Fatal(err)
			}
			between := f.requests()
			res, err := Merge(ctx, req(false))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.requests() - between; got != dry.Plan.Requests || res.Digest != dry.Plan.Digest {
				t.Errorf("the dry run planned %d requests and %s; the merge made %d and wrote %s", dry.Plan.Requests, dry.Plan.Digest, got, res.Digest)
			}
			raw, ok := f.dst.Manifest("app", "v1")
			if !ok || digest.FromBytes(raw) != res.Digest {
				t.Fatalf("app:v1 does not hold %s", res.Digest)
			}
			l, err := manifestlist.ParseList(raw, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Manifests) != 3 {
				t.Errorf("merged list has %d entries, want amd64, arm64 and s390x", len(l.Manifests))
			}
			for _, img := range f.images {
				m, ok := f.dst.Manifest("app", img.Digest.String())
				if !ok {
					t.Errorf("entry %s not brought into app", img.Digest)
					continue
				}
				p, err := manifestlist.Parse(m, "")
				if err != nil {
					t.Fatal(err)
				}
				c := registry.New(f.dst.Host, nil, registry.Options{Insecure: true})
				for _, b := range p.Blobs {
					if ok, err := c.BlobExists(ctx, "app", b.Digest); err != nil || !ok {
						t.Errorf("blob %s of %s not in app (%v)", b.Digest, img.Digest, err)
					}
				}
			}
		})
	}
}

// TestCopyDraftToDockerArchive: a docker-archive holds one image: a
// draft's is chosen with one --platform and copied from the repository its
// entry names; without one the copy is refused, naming the list's
// platforms.
func TestCopyDraftToDockerArchive(t *testing.T) {
	ctx := context.Background()
	f := newReaderFixture(t)
	sess := mlSession()
	archive, _ := ParseLocation("docker-archive:" + filepath.Join(t.TempDir(), "app.tar"))
	_, err := PlanCopyFrom(ctx, f.inputs["draft"], archive, sess, sess, Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "choose it with --platform") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("no --platform: %v, want a refusal naming the platforms", err)
	}
	p, err := PlanCopyFrom(ctx, f.inputs["draft"], archive, sess, sess, Options{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "arm64"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Close()
	// The stub's images have configs without diff IDs, which a
	// docker-archive reader refuses: the plan says what was copied.
	copied := ""
	for _, m := range p.Manifests {
		copied += string(m.Digest) + string(m.From)
	}
	if !strings.Contains(copied, string(f.images[1].Digest)) || len(p.Manifests) != 1 || p.Kind != "image" || !p.Draft || p.SourceDigest != f.digests["draft"] {
		t.Errorf("copied %+v (%s, draft %v, source %s), want the linux/arm64 image %s of the draft %s", p.Manifests, p.Kind, p.Draft, p.SourceDigest, f.images[1].Digest, f.digests["draft"])
	}
	if fi, err := os.Stat(strings.TrimPrefix(archive.String(), "docker-archive:")); err != nil || fi.Size() == 0 {
		t.Errorf("the archive: %v", err)
	}
}

// TestCopyDraftRefusals: what a draft's copy cannot do is refused before
// any request, naming docker:// for the registry's list.
func TestCopyDraftRefusals(t *testing.T) {
	f := newReaderFixture(t)
	dst, _ := ParseLocation(f.dst.Host + "/mirror:v1")
	before := f.requests()
	for _, opts := range []Options{{MediaType: "oci"}, {Referrers: true}} {
		sess := mlSession()
		_, err := PlanCopyFrom(context.Background(), f.inputs["draft"], dst, sess, sess, opts, nil)
		if err == nil || !strings.Contains(err.Error(), "docker://"+f.src.Host+"/draft:v1") {
			t.Errorf("%+v: %v, want a refusal naming docker://", opts, err)
		}
	}
	if n := f.requests() - before; n != 0 {
		t.Errorf("refusals made %d requests", n)
	}
}
