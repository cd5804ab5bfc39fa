package manifestlist

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func sources(d *Draft) []string {
	var out []string
	for _, e := range d.Entries {
		out = append(out, e.Source)
	}
	return out
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	d := &Draft{Name: "127.0.0.1:5000/app:v1", MediaType: "oci", Annotations: map[string]string{"org.opencontainers.image.source": "x"}}
	// Not alphabetical, so order must come from the sidecar.
	d.Add(entry("127.0.0.1:5000/app:s390x", imgspecv1.MediaTypeImageManifest, "s390x", "linux/s390x"))
	d.Add(entry("127.0.0.1:5000/app:amd64", v2s2, "amd64", "linux/amd64"))
	d.Entries[1].Descriptor.Annotations = map[string]string{"k": "v"}
	if err := s.Save(d); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}

	listDir := filepath.Join(dir, "manifests", "127.0.0.1-5000_app-v1")
	files, _ := os.ReadDir(listDir)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	if want := []string{"127.0.0.1-5000_app-amd64", "127.0.0.1-5000_app-s390x"}; !reflect.DeepEqual(names, want) {
		t.Errorf("list dir holds %v, want exactly %v", names, want)
	}
	for path, want := range map[string]os.FileMode{
		listDir: 0o700,
		filepath.Join(listDir, "127.0.0.1-5000_app-amd64"):                  0o600,
		filepath.Join(dir, "mlist", "drafts", "127.0.0.1-5000_app-v1.json"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "manifests", ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	// Dropping an entry removes its file.
	d.Entries = d.Entries[1:]
	if err := s.Save(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(listDir, "127.0.0.1-5000_app-s390x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed entry's file still there: %v", err)
	}
	got, _ = s.Get(d.Name)
	if !reflect.DeepEqual(sources(got), []string{"127.0.0.1:5000/app:amd64"}) {
		t.Errorf("entries after removal: %v", sources(got))
	}
}

// TestStoreWritesDockerFormat checks the keys and values `docker manifest`
// reads from an entry file.
func TestStoreWritesDockerFormat(t *testing.T) {
	tests := map[string]struct {
		e       Entry
		wantKey string
		absent  string
	}{
		"docker v2s2": {e: entry("127.0.0.1:5000/app:amd64", v2s2, "a", "linux/amd64"), wantKey: "SchemaV2Manifest", absent: "OCIManifest"},
		"oci":         {e: entry("127.0.0.1:5000/app:amd64", imgspecv1.MediaTypeImageManifest, "a", "linux/amd64"), wantKey: "OCIManifest", absent: "SchemaV2Manifest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			d := &Draft{Name: "127.0.0.1:5000/app:v1", Entries: []Entry{tc.e}}
			if err := NewStore(dir).Save(d); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "manifests", "127.0.0.1-5000_app-v1", "127.0.0.1-5000_app-amd64"))
			if err != nil {
				t.Fatal(err)
			}
			var f map[string]json.RawMessage
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			if string(f["Ref"]) != `"127.0.0.1:5000/app:amd64"` {
				t.Errorf("Ref = %s", f["Ref"])
			}
			var raw []byte
			if err := json.Unmarshal(f["Raw"], &raw); err != nil || string(raw) != string(tc.e.Raw) {
				t.Errorf("Raw = %s, want base64 of the manifest", f["Raw"])
			}
			if string(f[tc.wantKey]) != string(tc.e.Raw) {
				t.Errorf("%s = %s, want the manifest object", tc.wantKey, f[tc.wantKey])
			}
			if _, ok := f[tc.absent]; ok {
				t.Errorf("%s should be absent", tc.absent)
			}
			var desc imgspecv1.Descriptor
			if err := json.Unmarshal(f["Descriptor"], &desc); err != nil || !reflect.DeepEqual(desc, tc.e.Descriptor) {
				t.Errorf("Descriptor = %s", f["Descriptor"])
			}
			for k := range f {
				switch k {
				case "Ref", "Descriptor", "Raw", "SchemaV2Manifest", "OCIManifest":
				default:
					t.Errorf("unexpected key %s", k)
				}
			}
		})
	}
}

// writeDockerDraft writes files the way docker/cli's store does.
func writeDockerDraft(t *testing.T, dir, list string, files map[string]string) {
	t.Helper()
	ld := filepath.Join(dir, "manifests", list)
	if err := os.MkdirAll(ld, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ld, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dockerFile renders an entry as json.Marshal(types.ImageManifest) does.
func dockerFile(ref string, raw []byte, platform string) string {
	return fmt.Sprintf(`{"Ref":%q,"Descriptor":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":%q,"size":%d,"platform":%s},"Raw":%q,"SchemaV2Manifest":%s}`,
		ref, digest.FromBytes(raw), len(raw), platform, base64.StdEncoding.EncodeToString(raw), raw)
}

func TestStoreReadsDockerDrafts(t *testing.T) {
	amd := fakeManifest(v2s2, "amd64")
	arm := fakeManifest(v2s2, "arm")
	legacy := fakeManifest(v2s2, "legacy")
	tests := map[string]struct {
		files       map[string]string
		wantSources []string
		wantPlat    []string
		wantErr     string
	}{
		"docker manifest create + annotate": {
			files: map[string]string{
				"127.0.0.1-5000_app-arm": dockerFile("127.0.0.1:5000/app:arm", arm, `{"architecture":"arm","os":"linux","variant":"v7"}`),
				"127.0.0.1-5000_app-amd64": dockerFile("127.0.0.1:5000/app:amd64", amd,
					`{"architecture":"amd64","os":"linux","os.features":["x"]}`),
			},
			wantSources: []string{"127.0.0.1:5000/app:amd64", "127.0.0.1:5000/app:arm"},
			wantPlat:    []string{"linux/amd64", "linux/arm/v7"},
		},
		"no Raw, payload from SchemaV2Manifest": {
			files: map[string]string{"x": fmt.Sprintf(`{"Ref":"127.0.0.1:5000/app:amd64","Descriptor":{"mediaType":%q,"digest":%q,"size":%d},"SchemaV2Manifest":%s}`,
				v2s2, digest.FromBytes(amd), len(amd), amd)},
			wantSources: []string{"127.0.0.1:5000/app:amd64"},
			wantPlat:    []string{""},
		},
		"legacy Digest and Platform": {
			files: map[string]string{"x": fmt.Sprintf(`{"Ref":"127.0.0.1:5000/app:old","Descriptor":{"mediaType":"","digest":"","size":0},"Digest":%q,"Platform":{"architecture":"arm64","os":"linux","variant":"v8"},"SchemaV2Manifest":%s}`,
				digest.FromBytes(legacy), legacy)},
			wantSources: []string{"127.0.0.1:5000/app:old"},
			wantPlat:    []string{"linux/arm64/v8"},
		},
		"digest mismatch": {
			files:   map[string]string{"bad-file": strings.Replace(dockerFile("127.0.0.1:5000/app:amd64", amd, `{"architecture":"amd64","os":"linux"}`), digest.FromBytes(amd).String(), digest.FromBytes(arm).String(), 1)},
			wantErr: "bad-file: manifest digest " + digest.FromBytes(amd).String() + " does not match descriptor digest " + digest.FromBytes(arm).String(),
		},
		"no manifest": {
			files:   map[string]string{"empty": `{"Ref":"127.0.0.1:5000/app:amd64","Descriptor":{"mediaType":"","digest":"","size":0}}`},
			wantErr: "empty: it holds no manifest",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeDockerDraft(t, dir, "127.0.0.1-5000_app-v1", tc.files)
			d, err := NewStore(dir).Get("127.0.0.1:5000/app:v1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "127.0.0.1:5000/app:v1" || d.MediaType != "" {
				t.Errorf("draft %q type %q", d.Name, d.MediaType)
			}
			if !reflect.DeepEqual(sources(d), tc.wantSources) {
				t.Errorf("sources %v, want %v", sources(d), tc.wantSources)
			}
			for i, e := range d.Entries {
				if got := FormatPlatform(e.Descriptor.Platform); got != tc.wantPlat[i] {
					t.Errorf("entry %d platform %q, want %q", i, got, tc.wantPlat[i])
				}
				if e.Descriptor.MediaType != v2s2 || e.Descriptor.Size != int64(len(e.Raw)) {
					t.Errorf("entry %d descriptor %+v", i, e.Descriptor)
				}
			}
		})
	}
}

func TestStoreSidecarAndDocker(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	d := &Draft{Name: "127.0.0.1:5000/app:v1", MediaType: "docker"}
	d.Add(entry("127.0.0.1:5000/app:z", v2s2, "z", "linux/amd64"))
	d.Add(entry("127.0.0.1:5000/app:y", v2s2, "y", "linux/arm64"))
	if err := s.Save(d); err != nil {
		t.Fatal(err)
	}

	// `docker manifest create --amend` adds a file we never saw.
	x := fakeManifest(v2s2, "x")
	writeDockerDraft(t, dir, "127.0.0.1-5000_app-v1", map[string]string{
		"127.0.0.1-5000_app-x": dockerFile("127.0.0.1:5000/app:x", x, `{"architecture":"s390x","os":"linux"}`),
	})
	got, err := s.Get(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:5000/app:z", "127.0.0.1:5000/app:y", "127.0.0.1:5000/app:x"}; !reflect.DeepEqual(sources(got), want) || got.MediaType != "docker" {
		t.Errorf("after docker amend: %v (%q), want %v", sources(got), got.MediaType, want)
	}

	// `docker manifest rm` + `create` leave our sidecar stale.
	if err := os.RemoveAll(filepath.Join(dir, "manifests", "127.0.0.1-5000_app-v1")); err != nil {
		t.Fatal(err)
	}
	writeDockerDraft(t, dir, "127.0.0.1-5000_app-v1", map[string]string{
		"127.0.0.1-5000_app-w": dockerFile("127.0.0.1:5000/app:w", x, `{"architecture":"s390x","os":"linux"}`),
	})
	got, err = s.Get(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.MediaType != "" || len(got.Entries) != 1 {
		t.Errorf("stale sidecar used: %+v", got)
	}
}

func TestStoreErrors(t *testing.T) {
	good := entry("127.0.0.1:5000/app:amd64", v2s2, "a", "linux/amd64")
	corrupt := good
	corrupt.Raw = []byte(`{"other":1}`)
	tests := map[string]struct {
		run     func(*Store) error
		wantIs  error
		wantErr string
	}{
		"get missing":    {run: func(s *Store) error { _, err := s.Get("r.example/none:v1"); return err }, wantIs: ErrNotFound, wantErr: "no draft manifest list r.example/none:v1"},
		"remove missing": {run: func(s *Store) error { return s.Remove("r.example/none:v1") }, wantIs: ErrNotFound},
		"short source": {run: func(s *Store) error {
			return s.Save(&Draft{Name: "r.example/app:v1", Entries: []Entry{{Source: "app:amd64", Descriptor: good.Descriptor, Raw: good.Raw}}})
		}, wantErr: `entry source "app:amd64" is not a normalized reference`},
		"raw mismatch": {run: func(s *Store) error {
			return s.Save(&Draft{Name: "r.example/app:v1", Entries: []Entry{corrupt}})
		}, wantErr: "manifest bytes do not match digest"},
		"file name clash": {run: func(s *Store) error {
			other := entry("127.0.0.1-5000/app:amd64", v2s2, "b", "linux/arm64")
			return s.Save(&Draft{Name: "r.example/app:v1", Entries: []Entry{good, other}})
		}, wantErr: "would share the file name 127.0.0.1-5000_app-amd64"},
		"no name": {run: func(s *Store) error { return s.Save(&Draft{}) }, wantErr: "draft has no name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.run(NewStore(t.TempDir()))
			if err == nil {
				t.Fatal("want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestStoreListAndRemove(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	if ds, bad, err := s.List(); err != nil || len(ds) != 0 || len(bad) != 0 {
		t.Fatalf("empty store: %v, %v, %v", ds, bad, err)
	}
	for _, name := range []string{"r.example/b:v1", "r.example/a:v1"} {
		d := &Draft{Name: name, Entries: []Entry{entry("r.example/a:amd64", v2s2, name, "linux/amd64")}}
		if err := s.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	amd := fakeManifest(v2s2, "amd64")
	writeDockerDraft(t, dir, "docker.io_library_c-latest", map[string]string{
		"docker.io_library_c-amd64": dockerFile("docker.io/library/c:amd64", amd, `{"architecture":"amd64","os":"linux"}`),
	})
	if err := os.Mkdir(filepath.Join(dir, "manifests", ".r.example_a-v1.new-123"), 0o700); err != nil {
		t.Fatal(err)
	}
	ds, bad, err := s.List()
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	if want := []string{"docker.io/library/c:latest", "r.example/a:v1", "r.example/b:v1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("List names %v, want %v", names, want)
	}

	if err := s.Remove("r.example/a:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("r.example/a:v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mlist", "drafts", "r.example_a-v1.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sidecar not removed: %v", err)
	}
}
