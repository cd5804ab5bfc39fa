package manifestlist

import (
	"fmt"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// fakeManifest returns small but valid manifest bytes of media type mt,
// distinct for each seed.
func fakeManifest(mt, seed string) []byte {
	cfgType := manifest.DockerV2Schema2ConfigMediaType
	if mt == imgspecv1.MediaTypeImageManifest {
		cfgType = imgspecv1.MediaTypeImageConfig
	}
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":2,"digest":%q},"layers":[]}`,
		mt, cfgType, digest.FromString(seed))
}

// desc returns a descriptor for fakeManifest(mt, seed) with platform p
// ("" for none).
func desc(mt, seed, p string) imgspecv1.Descriptor {
	raw := fakeManifest(mt, seed)
	d := imgspecv1.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if p != "" {
		pl, err := ParsePlatform(p)
		if err != nil {
			panic(err)
		}
		d.Platform = &pl
	}
	return d
}

func docker(seed, p string) imgspecv1.Descriptor {
	return desc(manifest.DockerV2Schema2MediaType, seed, p)
}

func oci(seed, p string) imgspecv1.Descriptor {
	return desc(imgspecv1.MediaTypeImageManifest, seed, p)
}

// attestation returns an attestation entry describing subject.
func attestation(seed string, subject imgspecv1.Descriptor) imgspecv1.Descriptor {
	d := desc(imgspecv1.MediaTypeImageManifest, seed, "")
	d.Platform = &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"}
	d.Annotations = map[string]string{
		AnnotationReferenceType:   "attestation-manifest",
		AnnotationReferenceDigest: subject.Digest.String(),
	}
	return d
}

// entry returns a draft entry for source with a fresh manifest.
func entry(source, mt, seed, p string) Entry {
	return Entry{Source: source, Descriptor: desc(mt, seed, p), Raw: fakeManifest(mt, seed)}
}
