package copy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMergeIndexEntry(t *testing.T) {
	d1, d2 := digest.FromString("1"), digest.FromString("2")
	named := func(d digest.Digest, name string) imgspecv1.Descriptor {
		desc := imgspecv1.Descriptor{Digest: d, Size: 1}
		if name != "" {
			desc.Annotations = map[string]string{imgspecv1.AnnotationRefName: name}
		}
		return desc
	}
	type entry struct {
		d    digest.Digest
		name string
	}
	cases := []struct {
		name   string
		before []entry
		add    entry
		want   []entry
	}{
		{"new tag", []entry{{d1, "a"}}, entry{d2, "b"}, []entry{{d1, "a"}, {d2, "b"}}},
		{"tag moves", []entry{{d1, "a"}, {d2, "b"}}, entry{d2, "a"}, []entry{{d2, "b"}, {d2, "a"}}},
		{"same tag, same digest", []entry{{d1, "a"}}, entry{d1, "a"}, []entry{{d1, "a"}}},
		{"names an untagged entry", []entry{{d1, ""}, {d2, "b"}}, entry{d1, "a"}, []entry{{d1, "a"}, {d2, "b"}}},
		{"untagged, digest present", []entry{{d1, "a"}}, entry{d1, ""}, []entry{{d1, "a"}}},
		{"untagged twice", []entry{{d1, ""}}, entry{d1, ""}, []entry{{d1, ""}}},
		{"into an empty index", nil, entry{d1, "a"}, []entry{{d1, "a"}}},
	}
	for _, c := range cases {
		idx := &imgspecv1.Index{}
		for _, e := range c.before {
			idx.Manifests = append(idx.Manifests, named(e.d, e.name))
		}
		mergeIndexEntry(idx, named(c.add.d, c.add.name))
		var got []entry
		for _, m := range idx.Manifests {
			got = append(got, entry{m.Digest, m.Annotations[imgspecv1.AnnotationRefName]})
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

// TestLayoutNamesUnderLock: names queued on a layout destination (the
// copy's own, and later ones) are merged into the index.json on disk at
// commit, keeping the names another writer put there meanwhile.
func TestLayoutNamesUnderLock(t *testing.T) {
	dir := t.TempDir()
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	other := &layoutDestination{dir: dir}
	mine := &layoutDestination{dir: dir, image: "mine"}
	ctx := context.Background()
	if err := mine.putManifest(ctx, raw, imgspecv1.MediaTypeImageManifest, digest.FromBytes(raw), "", true); err != nil {
		t.Fatal(err)
	}
	mine.nameLater("later", raw, "")
	other.nameLater("theirs", raw, "") // commits first, after mine read nothing
	for _, d := range []*layoutDestination{other, mine} {
		if err := d.commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := readLayoutIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range idx.Manifests {
		names = append(names, m.Annotations[imgspecv1.AnnotationRefName])
	}
	if fmt.Sprint(names) != "[theirs mine later]" {
		t.Errorf("index.json names %v, want [theirs mine later]", names)
	}
	if _, err := os.Stat(filepath.Join(dir, imgspecv1.ImageLayoutFile)); err != nil {
		t.Errorf("no oci-layout file: %v", err)
	}
}
