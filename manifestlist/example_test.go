package manifestlist_test

import (
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// image returns a small image manifest and its list entry for platform p.
func image(source, p string) manifestlist.Entry {
	raw := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":2,"digest":%q},"layers":[]}`,
		imgspecv1.MediaTypeImageManifest, imgspecv1.MediaTypeImageConfig, digest.FromString(p))
	platform, err := manifestlist.ParsePlatform(p)
	if err != nil {
		panic(err)
	}
	return manifestlist.Entry{Source: source, Raw: raw, Descriptor: imgspecv1.Descriptor{
		MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)), Platform: &platform}}
}

// A list from images: a draft holds the entries, Build checks their
// platforms and serialises the list.
func ExampleDraft_Build() {
	d := &manifestlist.Draft{Name: "registry.example.com/app:1.0", MediaType: "oci"}
	d.Add(image("registry.example.com/app:1.0-amd64", "linux/amd64"))
	d.Add(image("registry.example.com/app:1.0-arm64", "linux/arm64"))
	raw, mediaType, err := d.Build()
	if err != nil {
		panic(err)
	}
	l, _ := manifestlist.ParseList(raw, mediaType)
	fmt.Println(mediaType)
	for _, m := range l.Manifests {
		fmt.Println(manifestlist.FormatPlatform(m.Platform))
	}
	// Output:
	// application/vnd.oci.image.index.v1+json
	// linux/amd64
	// linux/arm64
}

// A merge: new builds of some platforms replace those of an existing list,
// and the others stay.
func ExampleMerge() {
	released := &manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{
		image("app:old", "linux/amd64").Descriptor, image("app:old", "linux/s390x").Descriptor,
	}}
	build := image("app:new", "linux/arm64").Descriptor
	src := &manifestlist.List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{build}}
	result, plan, err := manifestlist.Merge(src, released, manifestlist.MergeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(result.Manifests), "entries")
	for _, c := range plan.Changes {
		fmt.Println(c.Platform, c.Action)
	}
	// Output:
	// 3 entries
	// linux/arm64 added
	// linux/amd64 kept
	// linux/s390x kept
}

// Drop removes entries and the attestations of the images it removes;
// Compare says what changed.
func ExampleCompare() {
	d := &manifestlist.Draft{Name: "registry.example.com/app:1.0", MediaType: "oci"}
	d.Add(image("registry.example.com/app@amd64", "linux/amd64"))
	d.Add(image("registry.example.com/app@arm64", "linux/arm64"))
	before, _ := d.List()
	if _, err := d.Drop("linux/arm64"); err != nil {
		panic(err)
	}
	after, _ := d.List()
	diff := manifestlist.Compare(before, after)
	for _, p := range diff.Platforms {
		fmt.Println(p.Platform, p.Action)
	}
	fmt.Println("equal:", diff.Equal())
	// Output:
	// linux/amd64 same
	// linux/arm64 removed
	// equal: false
}
