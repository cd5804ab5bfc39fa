package manifestlist

import (
	"errors"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

const v2s2 = manifest.DockerV2Schema2MediaType

func testDraft() *Draft {
	d := &Draft{Name: "127.0.0.1:5000/app:v1"}
	d.Add(entry("127.0.0.1:5000/app:amd64", v2s2, "amd64", "linux/amd64"))
	d.Add(entry("127.0.0.1:5000/app:armv7", v2s2, "armv7", "linux/arm/v7"))
	d.Add(entry("docker.io/library/busybox:arm64", v2s2, "arm64", "linux/arm64/v8"))
	return d
}

func TestDraftAdd(t *testing.T) {
	d := testDraft()
	again := entry("127.0.0.1:5000/app@"+d.Entries[1].Descriptor.Digest.String(), v2s2, "armv7", "linux/arm/v6")
	if !d.Add(again) {
		t.Fatal("re-adding a digest did not replace")
	}
	if len(d.Entries) != 3 || d.Entries[1].Source != again.Source {
		t.Fatalf("entry not replaced in place: %+v", d.Entries)
	}
	if d.Add(entry("127.0.0.1:5000/app:s390x", v2s2, "s390x", "linux/s390x")) || len(d.Entries) != 4 {
		t.Fatal("new digest not appended")
	}
}

func TestDraftFind(t *testing.T) {
	d := testDraft()
	dup := entry("127.0.0.1:5000/app:amd64-2", v2s2, "amd64-2", "linux/amd64")
	d.Add(dup)
	armDigest := d.Entries[1].Descriptor.Digest.String()
	tests := map[string]struct {
		sel     string
		want    int
		wantErr error
		errText string
	}{
		"source as typed":          {sel: "127.0.0.1:5000/app:armv7", want: 1},
		"source normalized":        {sel: "busybox:arm64", want: 2},
		"full digest":              {sel: armDigest, want: 1},
		"digest prefix":            {sel: armDigest[:7+12], want: 1},
		"digest prefix too short":  {sel: armDigest[:7+8], errText: "at least 12 hex digits"},
		"bare digest prefix":       {sel: armDigest[7 : 7+12], want: 1},
		"bare digest prefix, caps": {sel: strings.ToUpper(armDigest[7 : 7+12]), want: 1},
		"bare full hex":            {sel: armDigest[7:], want: 1},
		"bare 11 hex digits":       {sel: armDigest[7 : 7+11], wantErr: ErrNoMatch},
		"platform":                 {sel: "linux/arm/v7", want: 1},
		"platform normalized":      {sel: "linux/arm64", want: 2},
		"platform alias":           {sel: "linux/armhf", want: 1},
		"repository only":          {sel: "busybox", want: 2},
		"ambiguous platform": {sel: "linux/amd64", wantErr: ErrAmbiguous,
			errText: "name one by digest: linux/amd64 " + d.Entries[0].Descriptor.Digest.String()[:7+12] + " (127.0.0.1:5000/app:amd64), linux/amd64 " + dup.Descriptor.Digest.String()[:7+12] + " (127.0.0.1:5000/app:amd64-2)"},
		"ambiguous repository": {sel: "127.0.0.1:5000/app", wantErr: ErrAmbiguous},
		"no match": {sel: "linux/s390x", wantErr: ErrNoMatch,
			errText: `no entry of 127.0.0.1:5000/app:v1 matches "linux/s390x"; name one by platform, digest (a prefix of 12+ hex digits will do) or source: linux/amd64 ` +
				d.Entries[0].Descriptor.Digest.String()[:7+12] + ` (127.0.0.1:5000/app:amd64), linux/arm/v7 ` + armDigest[:7+12] + ` (127.0.0.1:5000/app:armv7)`},
		"unknown digest": {sel: "sha256:0123456789abcdef", wantErr: ErrNoMatch},
		"sha512 digest":  {sel: "sha512:" + strings.Repeat("ab", 64), errText: "algorithm sha512 is not supported; entries are named by sha256 digests"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := d.Find(tc.sel)
			if tc.wantErr == nil && tc.errText == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Find(%q) = %d, %v; want %d", tc.sel, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find(%q) = %d, want an error", tc.sel, got)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error = %q, want containing %q", err, tc.errText)
			}
		})
	}
}

// TestDraftFindWindows: a platform ENTRY goes through PlatformMatcher's
// rule: os.features never stop "windows/amd64" from naming an entry, and
// ":os.version" selects by version, a build selecting every update of it.
func TestDraftFindWindows(t *testing.T) {
	d := &Draft{Name: "127.0.0.1:5000/app:win"}
	ltsc2019 := entry("127.0.0.1:5000/app:ltsc2019", v2s2, "w1", "windows/amd64:10.0.17763.5329")
	ltsc2019.Descriptor.Platform.OSFeatures = []string{"win32k"}
	d.Add(ltsc2019)
	d.Add(entry("127.0.0.1:5000/app:ltsc2022", v2s2, "w2", "windows/amd64:10.0.20348.2227"))
	d.Add(entry("127.0.0.1:5000/app:linux", v2s2, "l", "linux/amd64"))
	tests := map[string]struct {
		sel     string
		want    int
		wantErr error
	}{
		"os.features ignored":    {sel: "windows/amd64:10.0.17763.5329", want: 0},
		"build selects updates":  {sel: "windows/amd64:10.0.17763", want: 0},
		"other build":            {sel: "windows/amd64:10.0.20348", want: 1},
		"no os.version: both":    {sel: "windows/amd64", wantErr: ErrAmbiguous},
		"partial build number":   {sel: "windows/amd64:10.0.1776", wantErr: ErrNoMatch},
		"other update":           {sel: "windows/amd64:10.0.17763.1", wantErr: ErrNoMatch},
		"linux without version":  {sel: "linux/amd64", want: 2},
		"version an entry lacks": {sel: "linux/amd64:6.1", wantErr: ErrNoMatch},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := d.Find(tc.sel)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Find(%q) = %d, %v; want %v", tc.sel, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Find(%q) = %d, %v; want %d", tc.sel, got, err, tc.want)
			}
		})
	}
}

func TestCheckPlatforms(t *testing.T) {
	amd := entry("r.example/app:amd64", v2s2, "amd64", "linux/amd64")
	amd2 := entry("r.example/app:amd64-2", v2s2, "amd64-2", "linux/amd64")
	win1 := entry("r.example/app:ltsc2019", v2s2, "w1", "windows/amd64:10.0.17763.1")
	win2 := entry("r.example/app:ltsc2022", v2s2, "w2", "windows/amd64:10.0.20348.1")
	bare := entry("r.example/app:bare", v2s2, "bare", "")
	att := Entry{Source: "r.example/app:att", Descriptor: attestation("att", amd.Descriptor)}
	att2 := Entry{Source: "r.example/app:att2", Descriptor: attestation("att2", win1.Descriptor)}
	tests := map[string]struct {
		entries []Entry
		wantErr string
	}{
		"distinct":            {entries: []Entry{amd, win1, win2}},
		"attestations exempt": {entries: []Entry{amd, att, att2}},
		"duplicate":           {entries: []Entry{amd, win1, amd2}, wantErr: "entries r.example/app:amd64 and r.example/app:amd64-2 both have platform linux/amd64"},
		"no platform":         {entries: []Entry{amd, bare}, wantErr: "r.example/app:bare (no platform) has no os/architecture"},
		"invalid platform": {entries: []Entry{amd, withPlatform(bare, imgspecv1.Platform{OS: "linux", Architecture: "sparc64"})},
			wantErr: `entry r.example/app:bare: invalid platform "linux/sparc64": architecture "sparc64" is not one of`},
		"escape in platform": {entries: []Entry{withPlatform(bare, imgspecv1.Platform{OS: "linux\x1b]0;x\x07", Architecture: "amd64"})},
			wantErr: `invalid platform "linux\x1b]0;x\a/amd64"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &Draft{Name: "r.example/app:v1", Entries: tc.entries}
			err := d.CheckPlatforms()
			// CheckDuplicates is the same check minus missing platforms.
			dupErr := d.CheckDuplicates()
			if strings.Contains(tc.wantErr, "both have platform") != (dupErr != nil) {
				t.Errorf("CheckDuplicates = %v", dupErr)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDraftBuild(t *testing.T) {
	ociEntry := entry("r.example/app:s390x", imgspecv1.MediaTypeImageManifest, "s390x", "linux/s390x")
	tests := map[string]struct {
		draft   Draft
		wantMT  string
		wantErr string
	}{
		"docker":              {draft: *testDraft(), wantMT: manifest.DockerV2ListMediaType},
		"oci because of type": {draft: Draft{Name: "r.example/app:v1", Entries: append(testDraft().Entries, ociEntry)}, wantMT: imgspecv1.MediaTypeImageIndex},
		"oci because asked":   {draft: Draft{Name: "r.example/app:v1", MediaType: "oci", Entries: testDraft().Entries}, wantMT: imgspecv1.MediaTypeImageIndex},
		"oci, annotations":    {draft: Draft{Name: "r.example/app:v1", Annotations: map[string]string{"a": "b"}, Entries: testDraft().Entries}, wantMT: imgspecv1.MediaTypeImageIndex},
		"docker refused":      {draft: Draft{Name: "r.example/app:v1", MediaType: "docker", Entries: append(testDraft().Entries, ociEntry)}, wantErr: "list r.example/app:v1: a Docker manifest list cannot hold " + ociEntry.Descriptor.Digest.String()},
		"empty":               {draft: Draft{Name: "r.example/app:v1"}, wantErr: "has no entries"},
		"duplicate platforms": {draft: Draft{Name: "r.example/app:v1", Entries: append(testDraft().Entries, entry("r.example/x:y", v2s2, "z", "linux/arm64"))}, wantErr: "both have platform linux/arm64"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			raw, mt, err := tc.draft.Build()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mt != tc.wantMT {
				t.Errorf("media type = %s, want %s", mt, tc.wantMT)
			}
			l, err := ParseList(raw, mt)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range tc.draft.Entries {
				if l.Manifests[i].Digest != e.Descriptor.Digest {
					t.Errorf("entry %d is %s, want %s (order must be kept)", i, l.Manifests[i].Digest, e.Descriptor.Digest)
				}
			}
		})
	}
}

func withPlatform(e Entry, p imgspecv1.Platform) Entry {
	e.Descriptor.Platform = &p
	return e
}
