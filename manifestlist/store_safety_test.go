package manifestlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// draftNames returns the names of drafts, in order.
func draftNames(ds []*Draft) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

// hiddenLeft lists the journal and temporary files under the store.
func hiddenLeft(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	for _, sub := range []string{"manifests", filepath.Join("mlist", "drafts")} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, ".*"))
		left = append(left, m...)
		m, _ = filepath.Glob(filepath.Join(dir, sub, "*.next"))
		left = append(left, m...)
	}
	return left
}

func TestStoreCollidingNames(t *testing.T) {
	tests := map[string]struct{ first, second string }{
		"slash and underscore": {"r.example/team/app:1", "r.example/team_app:1"},
		"colon and dash":       {"r.example/app:v1-2", "r.example/app-v1:2"},
		"port and dash":        {"r.example:5000/app:1", "r.example-5000/app:1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if escape(tc.first) != escape(tc.second) {
				t.Fatalf("%s and %s do not collide", tc.first, tc.second)
			}
			dir := t.TempDir()
			s := NewStore(dir)
			a := &Draft{Name: tc.first, Entries: []Entry{entry("r.example/a:amd64", v2s2, "a", "linux/amd64")}}
			b := &Draft{Name: tc.second, Entries: []Entry{entry("r.example/b:arm64", v2s2, "b", "linux/arm64")}}
			if err := s.Save(a); err != nil {
				t.Fatal(err)
			}
			// The second name is a new draft, not the first one.
			err := s.Edit(tc.second, func(d *Draft, found bool) error {
				if found {
					t.Errorf("Edit(%s) found %s's draft %v", tc.second, tc.first, sources(d))
				}
				d.Entries = b.Entries
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []*Draft{a, b} {
				got, err := s.Get(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Get(%s) = %s %v, want %v", want.Name, got.Name, sources(got), sources(want))
				}
			}
			// The first name keeps docker's directory.
			if _, err := os.Stat(filepath.Join(dir, "manifests", escape(tc.first), "r.example_a-amd64")); err != nil {
				t.Errorf("first draft not in docker's directory: %v", err)
			}
			ds, bad, err := s.List()
			if err != nil || len(bad) != 0 {
				t.Fatal(err, bad)
			}
			want := []string{tc.first, tc.second}
			slices.Sort(want)
			if got := draftNames(ds); !reflect.DeepEqual(got, want) {
				t.Errorf("List = %v, want %v", got, want)
			}

			// Removing the first leaves the second, which stays found
			// although docker's directory is free again.
			if err := s.Remove(tc.first); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(tc.first); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%s) after its removal: %v", tc.first, err)
			}
			if got, err := s.Get(tc.second); err != nil || !reflect.DeepEqual(got, b) {
				t.Errorf("Get(%s) after removing %s: %v %v", tc.second, tc.first, got, err)
			}
			// The first name comes back in docker's directory; the second
			// is still its own.
			if err := s.Save(a); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "manifests", escape(tc.first), "r.example_a-amd64")); err != nil {
				t.Errorf("first draft not back in docker's directory: %v", err)
			}
			if err := s.Remove(tc.second); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(tc.first); err != nil || !reflect.DeepEqual(got, a) {
				t.Errorf("Get(%s) after removing %s: %v %v", tc.first, tc.second, got, err)
			}
			if left := hiddenLeft(t, dir); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A draft `docker manifest` made records no name: it is the draft of
// every name docker would store there, until one of them saves it.
func TestStoreDockerDraftClaimedOnSave(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	amd := fakeManifest(v2s2, "amd64")
	writeDockerDraft(t, dir, "r.example_team_app-1", map[string]string{
		"r.example_a-amd64": dockerFile("r.example/a:amd64", amd, `{"architecture":"amd64","os":"linux"}`),
	})
	for _, n := range []string{"r.example/team/app:1", "r.example/team_app:1"} {
		if d, err := s.Get(n); err != nil || d.Name != n || len(d.Entries) != 1 {
			t.Errorf("Get(%s) = %+v, %v", n, d, err)
		}
	}
	d, _ := s.Get("r.example/team/app:1")
	if err := s.Save(d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("r.example/team_app:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after team/app claimed it, team_app still gets it: %v", err)
	}
}

func TestStoreConcurrentEdits(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			// A store per goroutine, as separate processes have.
			errs <- NewStore(dir).Edit("r.example/app:1", func(d *Draft, _ bool) error {
				d.Add(entry(fmt.Sprintf("r.example/app:e%d", i), v2s2, fmt.Sprint(i), "linux/amd64"))
				return nil
			})
		})
		// Edits of another draft do not share the lock.
		wg.Go(func() {
			errs <- NewStore(dir).Edit(fmt.Sprintf("r.example/other:%d", i), func(d *Draft, _ bool) error {
				d.Add(entry("r.example/app:x", v2s2, "x", "linux/amd64"))
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	d, err := NewStore(dir).Get("r.example/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != n {
		t.Errorf("%d entries after %d concurrent edits: %v", len(d.Entries), n, sources(d))
	}
	if left := hiddenLeft(t, dir); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestStoreKilledWrite stops a save or a remove after each of its steps, as
// kill -9 would, and checks that the next command sees the draft as it was
// before or after, with nothing left behind.
func TestStoreKilledWrite(t *testing.T) {
	const name = "r.example/app:1"
	before := &Draft{Name: name, MediaType: "docker", Entries: []Entry{
		entry("r.example/app:amd64", v2s2, "amd64", "linux/amd64"),
		entry("r.example/app:arm64", v2s2, "arm64", "linux/arm64"),
	}}
	after := &Draft{Name: name, MediaType: "oci", Annotations: map[string]string{"k": "v"}, Entries: []Entry{
		entry("r.example/app:s390x", v2s2, "s390x", "linux/s390x"),
		entry("r.example/app:amd64", v2s2, "amd64", "linux/amd64"),
	}}
	tests := map[string]struct {
		existed bool   // a draft existed before the write
		remove  bool   // the killed command removes instead of saving
		step    string // the last step done
		want    *Draft // nil: no draft
	}{
		"new, killed after a file":       {step: "file"},
		"new, killed after the sidecar":  {step: "next"},
		"new, killed after commit":       {step: "commit", want: after},
		"new, killed before cleanup":     {step: "sidecar", want: after},
		"amend, killed after a file":     {existed: true, step: "file", want: before},
		"amend, killed after sidecar":    {existed: true, step: "next", want: before},
		"amend, killed after moving old": {existed: true, step: "aside", want: before},
		"amend, killed after commit":     {existed: true, step: "commit", want: after},
		"amend, killed before cleanup":   {existed: true, step: "sidecar", want: after},
		"remove, killed after commit":    {existed: true, remove: true, step: "gone"},
		"remove, killed before cleanup":  {existed: true, remove: true, step: "unsidecar"},
	}
	for tname, tc := range tests {
		for _, reader := range []string{"get", "list"} {
			t.Run(tname+"/"+reader, func(t *testing.T) {
				dir := t.TempDir()
				s := NewStore(dir)
				if tc.existed {
					if err := s.Save(before); err != nil {
						t.Fatal(err)
					}
				}
				killedAt = func(step string) bool { return step == tc.step }
				var err error
				if tc.remove {
					err = s.Remove(name)
				} else {
					err = s.Save(after)
				}
				killedAt = func(string) bool { return false }
				if !errors.Is(err, errKilled) {
					t.Fatalf("the write was not stopped at %s: %v", tc.step, err)
				}

				var got *Draft
				switch reader {
				case "get":
					got, err = s.Get(name)
					if errors.Is(err, ErrNotFound) {
						got, err = nil, nil
					}
				case "list":
					var ds []*Draft
					var bad []UnreadableDraft
					ds, bad, err = s.List()
					if len(bad) > 0 {
						t.Errorf("unreadable: %v", bad)
					}
					if len(ds) > 1 {
						t.Fatalf("List = %v", draftNames(ds))
					}
					if len(ds) == 1 {
						got = ds[0]
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("after a kill at %s: got %+v, want %+v", tc.step, got, tc.want)
				}
				if left := hiddenLeft(t, dir); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
			})
		}
	}
}

func TestStoreListUnreadable(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	for _, n := range []string{"r.example/good:1", "r.example/bad:1", "r.example/team/app:1", "r.example/team_app:1"} {
		d := &Draft{Name: n, Entries: []Entry{entry("r.example/a:amd64", v2s2, n, "linux/amd64")}}
		if err := s.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := func(path string) {
		if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(filepath.Join(dir, "manifests", "r.example_bad-1", "r.example_a-amd64"))
	alt, _ := filepath.Glob(filepath.Join(dir, "mlist", "drafts", "r.example_team_app-1~*", "r.example_a-amd64"))
	if len(alt) != 1 {
		t.Fatalf("second draft of a shared name not found: %v", alt)
	}
	corrupt(alt[0])
	writeDockerDraft(t, dir, "docker.io_library_d-latest", map[string]string{"x": "garbage"})

	ds, bad, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := draftNames(ds), []string{"r.example/good:1", "r.example/team/app:1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("readable drafts %v, want %v", got, want)
	}
	var names []string
	for _, u := range bad {
		names = append(names, u.Name)
		if !strings.Contains(u.Error(), "draft "+u.Name+" is unreadable: invalid draft file") {
			t.Errorf("message %q", u.Error())
		}
	}
	if want := []string{"docker.io_library_d-latest", "r.example/bad:1", "r.example/team_app:1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("unreadable drafts %v, want %v", names, want)
	}
	// A corrupt draft is refused, not replaced, by its own name.
	if _, err := s.Get("r.example/bad:1"); err == nil || !strings.Contains(err.Error(), "invalid draft file") {
		t.Errorf("Get of a corrupt draft: %v", err)
	}
	if err := s.Save(&Draft{Name: "r.example/bad:1"}); err == nil {
		t.Error("Save over a corrupt draft succeeded")
	}
	// but it can be removed, and so can a corrupt docker draft.
	for _, n := range []string{"r.example/bad:1", "r.example/team_app:1", "docker.io/library/d:latest"} {
		if err := s.Remove(n); err != nil {
			t.Errorf("Remove(%s): %v", n, err)
		}
	}
	ds, bad, err = s.List()
	if got, want := draftNames(ds), []string{"r.example/good:1", "r.example/team/app:1"}; err != nil || len(bad) > 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("after removing the corrupt drafts: %v %v %v", got, bad, err)
	}
}

// A sidecar is the only record of a draft's name outside docker's
// directories: one that is missing, names something else, or names
// something that is no reference makes the draft unreadable, not someone
// else's.
func TestStoreBrokenSidecars(t *testing.T) {
	const a, b = "r.example/team/app:1", "r.example/team_app:1"
	tests := map[string]struct {
		damage  func(t *testing.T, s *Store)
		victim  string // the draft that becomes unreadable
		wantErr string
	}{
		"second name's sidecar missing": {victim: b, wantErr: "state file", damage: func(t *testing.T, s *Store) {
			if err := os.Remove(s.alternate(b).sidecar); err != nil {
				t.Fatal(err)
			}
		}},
		"sidecar names a name stored elsewhere": {victim: a, wantErr: `it names "r.example/other:1", which is not stored there`, damage: func(t *testing.T, s *Store) {
			writeSidecar(t, s.primary(escape(a)).sidecar, "r.example/other:1")
		}},
		"sidecar name not normalized": {victim: a, wantErr: "is not a normalized reference", damage: func(t *testing.T, s *Store) {
			writeSidecar(t, s.primary(escape(a)).sidecar, "r.example/team/app:1\x1b[2J")
		}},
	}
	for tname, tc := range tests {
		t.Run(tname, func(t *testing.T) {
			s := NewStore(t.TempDir())
			for _, n := range []string{a, b} {
				if err := s.Save(&Draft{Name: n, Entries: []Entry{entry("r.example/a:amd64", v2s2, n, "linux/amd64")}}); err != nil {
					t.Fatal(err)
				}
			}
			tc.damage(t, s)
			other := a
			if tc.victim == a {
				other = b
			}
			ds, bad, err := s.List()
			if err != nil || len(bad) != 1 || !strings.Contains(bad[0].Error(), tc.wantErr) {
				t.Fatalf("List: unreadable %v, %v; want one containing %q", bad, err, tc.wantErr)
			}
			if got := draftNames(ds); !reflect.DeepEqual(got, []string{other}) {
				t.Errorf("readable drafts %v, want %v", got, []string{other})
			}
			if _, err := s.Get(tc.victim); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%s) = %v, want the damage reported", tc.victim, err)
			}
			if d, err := s.Get(other); err != nil || d.Name != other {
				t.Errorf("Get(%s) = %v, %v", other, d, err)
			}
			if err := s.Remove(tc.victim); err != nil {
				t.Errorf("Remove(%s): %v", tc.victim, err)
			}
			if ds, bad, _ := s.List(); len(bad) != 0 || !reflect.DeepEqual(draftNames(ds), []string{other}) {
				t.Errorf("after removing the damaged draft: %v %v", draftNames(ds), bad)
			}
		})
	}
}

func writeSidecar(t *testing.T, path, name string) {
	t.Helper()
	b, _ := json.Marshal(sidecar{Name: name, Files: []string{"r.example_a-amd64"}})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
