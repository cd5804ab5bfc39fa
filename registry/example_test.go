package registry_test

import (
	"context"
	"fmt"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
)

type cleanups []func()

func (c *cleanups) Cleanup(f func()) { *c = append(*c, f) }

// A client reads and writes manifests by tag or digest. Options carry what
// the Docker CLI would know about the registry: credentials, certificates,
// whether it is insecure. Here the registry is an in-memory stub.
func ExampleClient_GetManifest() {
	var c cleanups
	defer func() {
		for _, f := range c {
			f()
		}
	}()
	s := registrystub.Start(&c, registrystub.Options{})

	ctx := context.Background()
	ref, err := registry.ParseReference(s.Host + "/team/app:1.0")
	if err != nil {
		panic(err)
	}
	client := registry.New(ref.Host, []registry.Scope{{Repository: ref.Repository, Actions: []string{"pull", "push"}}},
		registry.Options{Insecure: true})
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	written, err := client.PutManifest(ctx, ref.Repository, ref.Tag, index, "application/vnd.oci.image.index.v1+json")
	if err != nil {
		panic(err)
	}
	raw, desc, err := client.GetManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		panic(err)
	}
	fmt.Println(desc.Digest == written, desc.MediaType, len(raw) == len(index))
	// Output: true application/vnd.oci.image.index.v1+json true
}
