package plugin

import (
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/registry"
)

// Seed corpora live in testdata/fuzz/<FuzzName>; `make fuzz` runs each
// target for a short, fixed time.

// FuzzListName: a list name that is accepted is normalised (parsing it
// again gives itself), names a tag, and its error messages stay on one
// line.
func FuzzListName(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		name, err := listName(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		again, err := listName(name)
		if err != nil || again != name {
			t.Fatalf("listName(%q) = %q, which gives %q, %v", s, name, again, err)
		}
		r, err := registry.ParseReference(name)
		if err != nil || r.Tag == "" || r.Digest != "" {
			t.Fatalf("listName(%q) = %q: %+v, %v", s, name, r, err)
		}
	})
}

// FuzzParseAnnotations: every accepted pair has a key, the last value of a
// key wins, and applying them deletes exactly the keys set to "".
func FuzzParseAnnotations(f *testing.F) {
	f.Fuzz(func(t *testing.T, joined string) {
		pairs := strings.Split(joined, "\x00")
		got, err := parseAnnotations(pairs)
		if err != nil {
			return
		}
		for k := range got {
			if strings.TrimSpace(k) == "" {
				t.Fatalf("accepted an empty key from %q", pairs)
			}
		}
		for _, kv := range pairs {
			k, _, _ := strings.Cut(kv, "=")
			if _, ok := got[k]; !ok {
				t.Fatalf("pair %q lost", kv)
			}
		}
		applied := applyAnnotations(map[string]string{"keep": "1"}, got)
		for k, v := range got {
			if _, present := applied[k]; present == (v == "") {
				t.Fatalf("%s=%q applied as %v", k, v, applied)
			}
		}
	})
}
