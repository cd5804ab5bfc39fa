package copy_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// cleanups stands in for a test's Cleanup in examples.
type cleanups []func()

func (c *cleanups) Cleanup(f func()) { *c = append(*c, f) }

func (c cleanups) run() {
	for _, f := range c {
		f()
	}
}

// pushImage puts an image whose config says configPlatform into repo, and
// returns its list entry, which says listed.
func pushImage(s *registrystub.Stub, repo, configPlatform, listed string) imgspecv1.Descriptor {
	var os, arch string
	fmt.Sscanf(configPlatform, "%s %s", &os, &arch)
	cfg, _ := json.Marshal(map[string]any{"os": os, "architecture": arch, "rootfs": map[string]any{"type": "layers"}})
	layer := []byte("layer of " + configPlatform)
	m := imgspecv1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageManifest,
		Config: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: digest.Digest(s.PutBlob(repo, cfg)), Size: int64(len(cfg))},
		Layers: []imgspecv1.Descriptor{{MediaType: imgspecv1.MediaTypeImageLayerGzip, Digest: digest.Digest(s.PutBlob(repo, layer)), Size: int64(len(layer))}}}
	raw, _ := json.Marshal(m)
	d := s.PutManifest(repo, "", imgspecv1.MediaTypeImageManifest, raw)
	var lo, la string
	fmt.Sscanf(listed, "%s %s", &lo, &la)
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.Digest(d), Size: int64(len(raw)),
		Platform: &imgspecv1.Platform{OS: lo, Architecture: la}}
}

func pushIndex(s *registrystub.Stub, repo, tag string, entries ...imgspecv1.Descriptor) string {
	raw, _ := json.Marshal(imgspecv1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex, Manifests: entries})
	return s.PutManifest(repo, tag, imgspecv1.MediaTypeImageIndex, raw)
}

// A copy of a list with every image and blob to another repository,
// digests preserved. The registry here is an in-memory stub; a real one is
// reached the same way, with registry.Options for TLS and credentials.
func ExampleCopy() {
	var c cleanups
	defer c.run()
	s := registrystub.Start(&c, registrystub.Options{})
	src := pushIndex(s, "app", "1.0",
		pushImage(s, "app", "linux amd64", "linux amd64"), pushImage(s, "app", "linux arm64", "linux arm64"))

	client := registry.New(s.Host, nil, registry.Options{Insecure: true})
	var stats copy.Stats
	res, err := copy.Copy(context.Background(),
		copy.Endpoint{Client: client, Repository: "app"}, "1.0",
		copy.Endpoint{Client: client, Repository: "mirror/app"}, "1.0", copy.Options{}, &stats)
	if err != nil {
		panic(err)
	}
	fmt.Println("same digest:", res.Digest.String() == src)
	fmt.Println("mirror tags:", s.Tags("mirror/app"))
	// Output:
	// same digest: true
	// mirror tags: [1.0]
}

// Verify finds every problem of a list: here an entry labelled amd64 whose
// image is arm64, which a runtime would pull on the wrong machine.
func ExampleVerify() {
	var c cleanups
	defer c.run()
	s := registrystub.Start(&c, registrystub.Options{})
	pushIndex(s, "app", "1.0",
		pushImage(s, "app", "linux s390x", "linux s390x"), pushImage(s, "app", "linux arm64", "linux amd64"))

	client := registry.New(s.Host, nil, registry.Options{Insecure: true})
	report, err := copy.Verify(context.Background(), copy.Endpoint{Client: client, Repository: "app"}, "1.0", copy.VerifyOptions{Deep: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(report.Entries, "entries, ok:", report.OK())
	for _, p := range report.Problems {
		fmt.Println(p.Kind, p.Platform)
	}
	// Output:
	// 2 entries, ok: false
	// platform linux/amd64
}
