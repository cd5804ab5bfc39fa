package manifestlist

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// Seed corpora live in testdata/fuzz/<FuzzName>; `make fuzz` runs each
// target for a short, fixed time.

// FuzzParsePlatform: what ParsePlatform accepts is valid, and prints back
// to a string that parses to the same platform.
func FuzzParsePlatform(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		if err := ValidatePlatform(p); err != nil {
			t.Fatalf("ParsePlatform(%q) accepted %+v, which ValidatePlatform refuses: %v", s, p, err)
		}
		back, err := ParsePlatform(FormatPlatform(&p))
		if err != nil || !reflect.DeepEqual(back, p) {
			t.Fatalf("ParsePlatform(%q) = %+v, printed %q, read back as %+v, %v", s, p, FormatPlatform(&p), back, err)
		}
		if PlatformKey(&p, MatchPlatform) != PlatformKey(&back, MatchPlatform) {
			t.Fatalf("keys differ for %q", s)
		}
		// What a user types selects the entry that platform describes, and
		// the same without its os.version.
		if !ExactPlatform(p).Match(&back) || !OnlyPlatform(p).Match(&back) {
			t.Fatalf("%q does not select its own platform %+v", s, back)
		}
		if general := (imgspecv1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}); !ExactPlatform(general).Match(&p) {
			t.Fatalf("%s does not select %q", FormatPlatform(&general), s)
		}
	})
}

// FuzzParsePlatforms: an accepted list has no empty and no repeated
// platform, and each item parses alone.
func FuzzParsePlatforms(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePlatforms(s)
		if err != nil {
			return
		}
		items := strings.Split(s, ",")
		if len(items) != len(ps) {
			t.Fatalf("ParsePlatforms(%q) gave %d platforms for %d items", s, len(ps), len(items))
		}
		seen := map[string]bool{}
		for i, p := range ps {
			one, err := ParsePlatform(items[i])
			if err != nil || !reflect.DeepEqual(one, p) {
				t.Fatalf("item %q: %+v alone, %+v in the list (%v)", items[i], one, p, err)
			}
			k := PlatformKey(&p, MatchPlatform)
			if seen[k] {
				t.Fatalf("ParsePlatforms(%q) accepted %s twice", s, k)
			}
			seen[k] = true
		}
	})
}

// FuzzExpandTemplate: a template CheckTemplate accepts names a different
// image for each platform.
func FuzzExpandTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, tmpl, platforms string) {
		ps, err := ParsePlatforms(platforms)
		if err != nil || CheckTemplate(tmpl, ps) != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			ref := ExpandTemplate(tmpl, p)
			if seen[ref] {
				t.Fatalf("CheckTemplate(%q, %q) accepted a template naming %s twice", tmpl, platforms, ref)
			}
			seen[ref] = true
		}
	})
}

// FuzzParseSpec: no panic, errors on one line, and what is accepted has an
// image, entries with images, and valid platforms.
func FuzzParseSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSpec(bytes.NewReader(in))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		if s.Image == "" || len(s.Manifests) == 0 {
			t.Fatalf("accepted a spec without image or manifests: %+v", s)
		}
		for i, m := range s.Manifests {
			if m.Image == "" {
				t.Fatalf("manifests[%d] has no image", i)
			}
			if m.Platform != nil {
				if err := ValidatePlatform(*m.Platform); err != nil {
					t.Fatalf("manifests[%d]: accepted an invalid platform: %v", i, err)
				}
			}
		}
	})
}

// FuzzParseList: an accepted list has sha256 digests and valid platforms,
// and serialises to bytes that parse back to the same entries.
func FuzzParseList(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, mediaType string) {
		l, err := ParseList(raw, mediaType)
		if err != nil {
			return
		}
		if err := checkEntries(l.Manifests); err != nil {
			t.Fatalf("accepted entries checkEntries refuses: %v", err)
		}
		b, err := l.Serialize()
		if err != nil {
			// A Docker list with an entry the type cannot express is
			// refused by Serialize, by design.
			if l.MediaType == manifest.DockerV2ListMediaType {
				return
			}
			t.Fatalf("Serialize of a parsed OCI index: %v", err)
		}
		back, err := ParseList(b, l.MediaType)
		if err != nil {
			t.Fatalf("serialised list does not parse: %v\n%s", err, b)
		}
		if len(back.Manifests) != len(l.Manifests) {
			t.Fatalf("%d entries, %d after a round trip", len(l.Manifests), len(back.Manifests))
		}
		for i := range l.Manifests {
			a, b := l.Manifests[i], back.Manifests[i]
			if a.Digest != b.Digest || a.Size != b.Size || a.MediaType != b.MediaType || FormatPlatform(a.Platform) != FormatPlatform(b.Platform) {
				t.Fatalf("entry %d changed in a round trip: %+v -> %+v", i, a, b)
			}
		}
	})
}

// FuzzDraftFiles writes fuzzed bytes as a draft's entry file and sidecar
// and reads the draft directory the way every command does: no panic, an
// unreadable draft is reported by List and refused by Get (never
// replaced), and a readable one survives Save and Get unchanged.
func FuzzDraftFiles(f *testing.F) {
	const name = "r.example/app:1"
	f.Fuzz(func(t *testing.T, entryFile, sidecarFile []byte) {
		dir := t.TempDir()
		s := NewStore(dir)
		esc := escape(name)
		if err := os.MkdirAll(filepath.Join(dir, "manifests", esc), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifests", esc, "r.example_app-amd64"), entryFile, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(sidecarFile) > 0 {
			if err := os.MkdirAll(filepath.Join(dir, "mlist", "drafts"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "mlist", "drafts", esc+".json"), sidecarFile, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ds, bad, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(ds)+len(bad) != 1 {
			t.Fatalf("List gave %d drafts and %d unreadable for one directory", len(ds), len(bad))
		}
		for _, u := range bad {
			if !utf8.ValidString(u.Error()) && utf8.Valid(entryFile) && utf8.Valid(sidecarFile) {
				t.Errorf("invalid UTF-8 in %q", u.Error())
			}
		}
		d, err := s.Get(name)
		if len(ds) == 1 && ds[0].Name != name && ds[0].Name != esc {
			// Recorded under another name that escapes alike: not ours.
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(%s) of %s's draft: %v", name, ds[0].Name, err)
			}
			if escape(ds[0].Name) != esc {
				t.Fatalf("List named the draft in %s %q", esc, ds[0].Name)
			}
			return
		}
		if (err != nil) != (len(bad) == 1) {
			t.Fatalf("Get: %v, but List found %d unreadable", err, len(bad))
		}
		if err != nil {
			if s.Save(&Draft{Name: name}) == nil {
				t.Fatal("Save replaced an unreadable draft")
			}
			return
		}
		if d.Name != name {
			t.Fatalf("Get(%s) gave the draft of %s", name, d.Name)
		}
		if err := s.Save(d); err != nil {
			// Only drafts docker-mlist cannot write (a source reference
			// docker would refuse, two sources sharing a file name) fail.
			if !strings.Contains(err.Error(), "is not a normalized reference") && !strings.Contains(err.Error(), "share the file name") {
				t.Fatalf("Save of a draft Get returned: %v", err)
			}
			return
		}
		again, err := s.Get(name)
		if err != nil {
			t.Fatalf("Get after Save: %v", err)
		}
		// Once saved by docker-mlist, a draft is no longer docker's.
		d.Docker = false
		norm := func(d *Draft) []byte { b, _ := json.Marshal(d); return b }
		if !bytes.Equal(norm(again), norm(d)) {
			t.Fatalf("draft changed in a Save/Get round trip:\n%s\n%s", norm(d), norm(again))
		}
	})
}
