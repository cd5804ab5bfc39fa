package plugin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSummarise(t *testing.T) {
	img := func(c string) digest.Digest { return digest.FromString(c) }
	written := img("list")
	base := func(changes ...copy.MergeChange) *copy.Plan {
		return &copy.Plan{Command: "merge", Source: "r.test/app:build", Digest: written, MediaType: imgspecv1.MediaTypeImageIndex,
			Tags:  []copy.TagWrite{{Tag: "r.test/app:1.0", Old: img("old"), New: written}},
			Merge: &copy.MergeDetail{Target: "r.test/app:1.0", MediaTypeReason: "DESTINATION's type", Changes: changes}}
	}
	moved := "r.test/app:1.0: " + manifestlist.ShortDigest(img("old")) + "… → " + manifestlist.ShortDigest(written) + "… (moved)"
	tests := map[string]struct {
		plan   *copy.Plan
		counts copy.Counts
		want   []string
	}{
		"one image, nothing brought": {
			plan:   base(copy.MergeChange{Platform: "linux/amd64", Action: "replaced", Old: img("a"), New: img("b")}),
			counts: copy.Counts{Manifests: 1},
			want: []string{
				"Merged r.test/app:build into r.test/app:1.0: 0 added, 1 replaced, 0 kept, 0 dropped",
				"The result is OCI index " + written.String() + " (1 image; DESTINATION's type)",
				"Wrote r.test/app:1.0: 1 manifest written",
				moved,
			},
		},
		"attestations counted apart, manifests brought": {
			plan: base(
				copy.MergeChange{Platform: "linux/amd64", Action: "added", New: img("b")},
				copy.MergeChange{Platform: "linux/s390x", Action: "kept", Old: img("c"), New: img("c")},
				copy.MergeChange{Platform: "unknown/unknown", Action: "added", New: img("att-b"), Attestation: true},
				copy.MergeChange{Platform: "unknown/unknown", Action: "dropped", Old: img("att-a"), Attestation: true},
			),
			counts: copy.Counts{Manifests: 3, Present: 1, Mounted: 1, Uploaded: 3, BytesUploaded: 1_050_000, BlobsPresent: 0},
			want: []string{
				"Merged r.test/app:build into r.test/app:1.0: 1 added, 0 replaced, 1 kept, 0 dropped",
				"Attestations follow their images: 1 added, 0 kept, 1 dropped",
				"The result is OCI index " + written.String() + " (2 images and 1 attestation; DESTINATION's type)",
				"Wrote r.test/app:1.0: 3 manifests written, 1 already there; 4 blobs: 1 mounted, 3 copied (1.05MB)",
				moved,
			},
		},
		"--match arch: one image replaces two": {
			plan: base(
				copy.MergeChange{Platform: "linux/amd64", Action: "replaced", Old: img("a"), New: img("b")},
				copy.MergeChange{Platform: "linux/amd64", OldPlatform: "windows/amd64", Action: "replaced", Old: img("w"), New: img("b")},
			),
			counts: copy.Counts{Manifests: 1},
			want: []string{
				"Merged r.test/app:build into r.test/app:1.0: 0 added, 2 replaced, 0 kept, 0 dropped",
				"The result is OCI index " + written.String() + " (1 image; DESTINATION's type)",
				"Wrote r.test/app:1.0: 1 manifest written",
				moved,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			mergeSummary(&buf, tc.plan)
			runSummary(&buf, "Wrote r.test/app:1.0", tc.plan, tc.counts)
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestTagLine: a tag write names what the tag held and what it gets.
func TestTagLine(t *testing.T) {
	old, new := digest.FromString("old"), digest.FromString("new")
	s := func(d digest.Digest) string { return manifestlist.ShortDigest(d) + "…" }
	for _, tc := range []struct {
		tw   copy.TagWrite
		want string
	}{
		{copy.TagWrite{Tag: "r.test/app:1", Old: old, New: new}, "r.test/app:1: " + s(old) + " → " + s(new) + " (moved)"},
		{copy.TagWrite{Tag: "r.test/app:1", New: new}, "r.test/app:1: → " + s(new) + " (written: a new tag)"},
		{copy.TagWrite{Tag: "r.test/app:1", Old: new, New: new, Unchanged: true}, "r.test/app:1: " + s(new) + " (unchanged: nothing written)"},
		{copy.TagWrite{Tag: "r.test/app:\x1b[31m", New: new}, "r.test/app:\\x1b[31m: → " + s(new) + " (written: a new tag)"},
		{copy.TagWrite{Tag: "r.test/app:1", New: new, Note: "a single image\x1b[31m"}, "r.test/app:1: → " + s(new) + " (written: a new tag) (a single image\\x1b[31m)"},
	} {
		if got := tagLine(tc.tw); got != tc.want {
			t.Errorf("tagLine(%+v) = %q, want %q", tc.tw, got, tc.want)
		}
	}
}

// TestPlanTableEscapes: a copy's dry-run table escapes what registries
// supplied (here a media type and a source with terminal escapes).
func TestPlanTableEscapes(t *testing.T) {
	p := &copy.Plan{Command: "copy", Source: "r.test/\x1b]0;pwned\x07app:1", Destination: "m.test/app", Digest: digest.FromString("x"),
		Manifests: []copy.PlanManifest{{Digest: digest.FromString("x"), Role: "image\x1b[2J", Action: "put"}}}
	var buf bytes.Buffer
	if err := writePlan(&buf, "table", p); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(buf.String(), "\x1b\x07") {
		t.Errorf("the table passes escape sequences through:\n%q", buf.String())
	}
}

func TestListTypeReason(t *testing.T) {
	docker := manifestlist.Entry{Descriptor: imgspecv1.Descriptor{MediaType: "application/vnd.docker.distribution.manifest.v2+json", Digest: digest.FromString("d")}}
	oci := manifestlist.Entry{Descriptor: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("o")}}
	annotated := docker
	annotated.Descriptor.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
	tests := map[string]struct {
		draft    manifestlist.Draft
		wantType string
		want     string
	}{
		"docker images":       {draft: manifestlist.Draft{Entries: []manifestlist.Entry{docker}}, wantType: "Docker manifest list", want: "every entry is a Docker image (--media-type oci makes an OCI index)"},
		"an OCI manifest":     {draft: manifestlist.Draft{Entries: []manifestlist.Entry{docker, oci}}, wantType: "OCI index", want: "entry " + oci.Descriptor.Digest.String() + " is application/vnd.oci.image.manifest.v1+json, which a Docker manifest list cannot hold"},
		"an entry annotation": {draft: manifestlist.Draft{Entries: []manifestlist.Entry{docker, annotated}}, wantType: "OCI index", want: "entry " + annotated.Descriptor.Digest.String() + " carries annotations, which a Docker manifest list cannot"},
		"list annotations":    {draft: manifestlist.Draft{Entries: []manifestlist.Entry{docker}, Annotations: map[string]string{"a": "b"}}, wantType: "OCI index", want: "the list carries annotations, which a Docker manifest list cannot"},
		"asked for":           {draft: manifestlist.Draft{Entries: []manifestlist.Entry{docker}, MediaType: "oci"}, wantType: "OCI index", want: "--media-type oci asked for it"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := tc.draft.List()
			if err != nil {
				t.Fatal(err)
			}
			if got := listKind(l.MediaType); got != tc.wantType {
				t.Errorf("type %q, want %q", got, tc.wantType)
			}
			if got := listTypeReason(&tc.draft); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 blobs", 1: "1 blob", 2: "2 blobs"} {
		if got := plural(n, "blob"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int]string{0: "0 entries", 1: "1 entry", 2: "2 entries"} {
		if got := plural(n, "entry"); got != want {
			t.Errorf("plural(%d, entry) = %q, want %q", n, got, want)
		}
	}
	if got := plural(2, "key"); got != "2 keys" {
		t.Errorf("plural(2, key) = %q, want 2 keys", got)
	}
}

// A dry run's table names the other repository an extra tag takes a
// manifest or blob to, and every tag with its action.
func TestPlanTableExtraTags(t *testing.T) {
	list, old := digest.FromString("list"), digest.FromString("old")
	p := &copy.Plan{Command: "push", Destination: "r.test/app", Digest: list, Requests: 7,
		Manifests: []copy.PlanManifest{{Digest: list, Role: "list", Action: "put"}, {Digest: list, Role: "list", Action: "put", Repository: "r.test/release"}},
		Blobs:     []copy.PlanBlob{{Digest: digest.FromString("b"), Action: "mount", Size: 1, Repository: "r.test/release"}},
		Tags: []copy.TagWrite{{Tag: "r.test/app:1.0", New: list}, {Tag: "r.test/app:latest", Old: old, New: list},
			{Tag: "r.test/release:1.0", Old: list, New: list, Unchanged: true}}}
	var b bytes.Buffer
	if err := writePlan(&b, "table", p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"put into r.test/release", "mount into r.test/release",
		"r.test/app:latest: " + manifestlist.ShortDigest(old) + "… → " + manifestlist.ShortDigest(list) + "… (moved)",
		"r.test/app:1.0: → " + manifestlist.ShortDigest(list) + "… (written: a new tag)",
		"r.test/release:1.0: " + manifestlist.ShortDigest(list) + "… (unchanged: nothing written)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

// TestPlanRequestWords: a plan whose requests leave some out says so, in
// the table and in JSON (requestsExact); an exact one says its count.
func TestPlanRequestWords(t *testing.T) {
	tests := map[string]struct {
		leftOut             string
		wantTable, wantJSON string
	}{
		"exact":    {wantTable: "; 7 requests, ", wantJSON: `"requestsExact": true`},
		"left out": {leftOut: "--referrers: not counted", wantTable: "; about 7 requests (--referrers: not counted), ", wantJSON: `"requestsExact": false`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &copy.Plan{Command: "copy", Source: "r.test/app:1", Destination: "m.test/app", Digest: digest.FromString("x"), Requests: 7, RequestsLeftOut: tc.leftOut,
				Manifests: []copy.PlanManifest{{Digest: digest.FromString("x"), Role: "image", Action: "put"}}}
			for format, want := range map[string]string{"table": tc.wantTable, "json": tc.wantJSON} {
				var b bytes.Buffer
				if err := writePlan(&b, format, p); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(b.String(), want) {
					t.Errorf("%s lacks %q:\n%s", format, want, b.String())
				}
			}
		})
	}
}
