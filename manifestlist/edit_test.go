package manifestlist

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

func TestDrop(t *testing.T) {
	amd := entry("r.example/app:amd64", imgspecv1.MediaTypeImageManifest, "amd", "linux/amd64")
	arm := entry("r.example/app:arm64", imgspecv1.MediaTypeImageManifest, "arm", "linux/arm64")
	armv7 := entry("r.example/app:armv7", imgspecv1.MediaTypeImageManifest, "armv7", "linux/arm/v7")
	att := func(seed string, subject Entry) Entry {
		d := attestation(seed, subject.Descriptor)
		return Entry{Source: "r.example/app@" + d.Digest.String(), Descriptor: d, Raw: fakeManifest(imgspecv1.MediaTypeImageManifest, seed)}
	}
	amdAtt, armAtt := att("amd-att", amd), att("arm-att", arm)
	all := []Entry{amd, arm, armv7, amdAtt, armAtt}
	for name, tc := range map[string]struct {
		selectors []string
		kept      []Entry
		dropped   []Entry
		err       string
		sentinel  error
	}{
		"by platform, with its attestation": {selectors: []string{"linux/arm64"}, kept: []Entry{amd, armv7, amdAtt}, dropped: []Entry{arm, armAtt}},
		"by source":                         {selectors: []string{"r.example/app:armv7"}, kept: []Entry{amd, arm, amdAtt, armAtt}, dropped: []Entry{armv7}},
		"by digest prefix":                  {selectors: []string{amd.Descriptor.Digest.String()[:19]}, kept: []Entry{arm, armv7, armAtt}, dropped: []Entry{amd, amdAtt}},
		"several, one named twice":          {selectors: []string{"linux/arm64", "r.example/app:arm64", "linux/arm/v7"}, kept: []Entry{amd, amdAtt}, dropped: []Entry{arm, armv7, armAtt}},
		"an attestation alone":              {selectors: []string{armAtt.Descriptor.Digest.String()}, kept: []Entry{amd, arm, armv7, amdAtt}, dropped: []Entry{armAtt}},
		"every image":                       {selectors: []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, err: "it would leave no image"},
		"unknown platform changes nothing":  {selectors: []string{"linux/arm64", "linux/s390x"}, err: `no entry of r.example/app:1 matches "linux/s390x"`, sentinel: ErrNoMatch},
		"no selector":                       {err: "no entry named"},
	} {
		t.Run(name, func(t *testing.T) {
			d := &Draft{Name: "r.example/app:1", Entries: slices.Clone(all)}
			dropped, err := d.Drop(tc.selectors...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
					t.Errorf("err %v is not %v", err, tc.sentinel)
				}
				if !slices.EqualFunc(d.Entries, all, sameEntry) {
					t.Errorf("a failed drop changed the draft")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(d.Entries, tc.kept, sameEntry) {
				t.Errorf("kept %v, want %v", labels(d.Entries), labels(tc.kept))
			}
			if !slices.EqualFunc(dropped, tc.dropped, sameEntry) {
				t.Errorf("dropped %v, want %v", labels(dropped), labels(tc.dropped))
			}
		})
	}
}

func sameEntry(a, b Entry) bool { return a.Descriptor.Digest == b.Descriptor.Digest }

func labels(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Label())
	}
	return out
}

func TestCompare(t *testing.T) {
	amd, arm, armv7 := oci("amd", "linux/amd64"), oci("arm", "linux/arm64"), oci("armv7", "linux/arm/v7")
	amd2 := oci("amd2", "linux/amd64")
	amdAtt, amd2Att := attestation("amd-att", amd), attestation("amd2-att", amd2)
	idx := func(ms ...imgspecv1.Descriptor) *List {
		return &List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: ms}
	}
	row := func(p string, a DiffAction, old, new string) string {
		return p + " " + string(a) + " " + old + " " + new
	}
	bigger := arm
	bigger.Size++
	annotated := arm
	annotated.Annotations = map[string]string{"k": "v"}
	for name, tc := range map[string]struct {
		a, b  *List
		rows  []string
		equal bool
		check func(t *testing.T, d Diff)
	}{
		"identical": {a: idx(amd, arm), b: idx(amd, arm), equal: true,
			rows: []string{row("linux/amd64", DiffSame, "amd", "amd"), row("linux/arm64", DiffSame, "arm", "arm")}},
		"added, removed, changed": {a: idx(amd, arm), b: idx(amd2, armv7),
			rows: []string{row("linux/amd64", DiffChanged, "amd", "amd2"), row("linux/arm64", DiffRemoved, "arm", ""), row("linux/arm/v7", DiffAdded, "", "armv7")}},
		"attestation follows its image's platform": {a: idx(amd, amdAtt), b: idx(amd2, amd2Att),
			rows: []string{row("linux/amd64", DiffChanged, "amd", "amd2"), row("attestation of linux/amd64", DiffChanged, "amd-att", "amd2-att")}},
		"attestation dropped with its image": {a: idx(amd, arm, amdAtt), b: idx(arm),
			rows: []string{row("linux/amd64", DiffRemoved, "amd", ""), row("linux/arm64", DiffSame, "arm", "arm"), row("attestation of linux/amd64", DiffRemoved, "amd-att", "")}},
		"same digest, other size": {a: idx(arm), b: idx(bigger),
			rows: []string{row("linux/arm64", DiffChanged, "arm", "arm")},
			check: func(t *testing.T, d Diff) {
				if len(d.Platforms[0].Details) != 1 || !strings.HasPrefix(d.Platforms[0].Details[0], "size ") {
					t.Errorf("details %q", d.Platforms[0].Details)
				}
			}},
		"entry annotation": {a: idx(arm), b: idx(annotated), rows: []string{row("linux/arm64", DiffChanged, "arm", "arm")},
			check: func(t *testing.T, d Diff) {
				if want := []string{`annotation k: (none) → "v"`}; !slices.Equal(d.Platforms[0].Details, want) {
					t.Errorf("details %q, want %q", d.Platforms[0].Details, want)
				}
			}},
		"list type": {a: &List{MediaType: manifest.DockerV2ListMediaType, Manifests: []imgspecv1.Descriptor{amd}}, b: idx(amd),
			rows: []string{row("linux/amd64", DiffSame, "amd", "amd")},
			check: func(t *testing.T, d Diff) {
				if d.OldMediaType != manifest.DockerV2ListMediaType || d.NewMediaType != imgspecv1.MediaTypeImageIndex {
					t.Errorf("media types %q → %q", d.OldMediaType, d.NewMediaType)
				}
			}},
		"index annotations": {a: &List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{amd}, Annotations: map[string]string{"a": "1", "b": "2"}},
			b:    &List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{amd}, Annotations: map[string]string{"a": "1", "b": "3", "c": "4"}},
			rows: []string{row("linux/amd64", DiffSame, "amd", "amd")},
			check: func(t *testing.T, d Diff) {
				var got []string
				for _, a := range d.Annotations {
					got = append(got, a.String())
				}
				if want := []string{`b: "2" → "3"`, `c: (none) → "4"`}; !slices.Equal(got, want) {
					t.Errorf("annotations %q, want %q", got, want)
				}
			}},
		"order only": {a: idx(amd, arm), b: idx(arm, amd),
			rows: []string{row("linux/amd64", DiffSame, "amd", "amd"), row("linux/arm64", DiffSame, "arm", "arm")},
			check: func(t *testing.T, d Diff) {
				if !d.Reordered {
					t.Error("not reordered")
				}
			}},
		"duplicate platforms pair in order": {a: idx(amd, amd2), b: idx(amd),
			rows: []string{row("linux/amd64", DiffSame, "amd", "amd"), row("linux/amd64", DiffRemoved, "amd2", "")}},
		"against nothing": {a: nil, b: idx(amd), rows: []string{row("linux/amd64", DiffAdded, "", "amd")}},
	} {
		t.Run(name, func(t *testing.T) {
			names := map[string]string{}
			for _, d := range []imgspecv1.Descriptor{amd, arm, armv7, amd2, amdAtt, amd2Att} {
				names[d.Digest.String()] = map[string]string{amd.Digest.String(): "amd", arm.Digest.String(): "arm", armv7.Digest.String(): "armv7",
					amd2.Digest.String(): "amd2", amdAtt.Digest.String(): "amd-att", amd2Att.Digest.String(): "amd2-att"}[d.Digest.String()]
			}
			d := Compare(tc.a, tc.b)
			var got []string
			for _, p := range d.Platforms {
				got = append(got, row(p.Platform, p.Action, names[p.Old.String()], names[p.New.String()]))
			}
			if !slices.Equal(got, tc.rows) {
				t.Errorf("rows\n%q\nwant\n%q", got, tc.rows)
			}
			if d.Equal() != tc.equal {
				t.Errorf("Equal() = %v, want %v", d.Equal(), tc.equal)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// A draft started from a list builds that list's exact bytes until it
// changes; then it builds the changed list.
func TestDraftOrigin(t *testing.T) {
	amd, arm := oci("amd", "linux/amd64"), oci("arm", "linux/arm64")
	// Formatted as no serialiser of ours would write it.
	origin := []byte("{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n  \"manifests\": [\n" +
		descJSON(amd) + ",\n" + descJSON(arm) + "\n  ],\n  \"annotations\": {\"a\": \"1\"}\n}\n")
	l, err := ParseList(origin, "")
	if err != nil {
		t.Fatal(err)
	}
	d := &Draft{Name: "r.example/app:1", MediaType: "oci", Annotations: l.Annotations, Origin: origin}
	for i, m := range l.Manifests {
		seed := []string{"amd", "arm"}[i]
		d.Entries = append(d.Entries, Entry{Source: "r.example/app@" + m.Digest.String(), Descriptor: m, Raw: fakeManifest(m.MediaType, seed)})
	}
	raw, _, err := d.Build()
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(origin) {
		t.Fatalf("unchanged draft built\n%s\nwant the origin's bytes", raw)
	}
	if _, err := d.Drop("linux/arm64"); err != nil {
		t.Fatal(err)
	}
	raw, _, err = d.Build()
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) == string(origin) || strings.Contains(string(raw), arm.Digest.String()) || !strings.Contains(string(raw), `"a":"1"`) {
		t.Fatalf("changed draft built\n%s", raw)
	}
}

func descJSON(d imgspecv1.Descriptor) string {
	return `    {"mediaType": "` + d.MediaType + `", "digest": "` + d.Digest.String() + `", "size": ` + itoa(d.Size) +
		`, "platform": {"os": "` + d.Platform.OS + `", "architecture": "` + d.Platform.Architecture + `"}}`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
