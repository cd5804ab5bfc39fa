package manifestlist

import (
	"fmt"
	"maps"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// List is a neutral model of a Docker manifest list or an OCI image index,
// so that code editing lists does not care which of the two it holds.
type List struct {
	// MediaType is manifest.DockerV2ListMediaType or imgspecv1.MediaTypeImageIndex.
	MediaType string
	// ArtifactType is the OCI index artifactType; Docker lists have none.
	ArtifactType string
	// Annotations are the index-level annotations; Docker lists have none.
	Annotations map[string]string
	// Subject is the OCI index subject; Docker lists have none.
	Subject *imgspecv1.Descriptor
	// Manifests are the entries, in list order.
	Manifests []imgspecv1.Descriptor
}

// IsList reports whether mediaType is a Docker manifest list or an OCI index.
func IsList(mediaType string) bool {
	return mediaType == manifest.DockerV2ListMediaType || mediaType == imgspecv1.MediaTypeImageIndex
}

// ParseList parses a Docker manifest list or OCI index, whose type
// MediaTypeOf(raw, mediaType) decides. Docker platform "features" are
// dropped, since the OCI platform has no such field.
func ParseList(raw []byte, mediaType string) (*List, error) {
	return parseList(raw, MediaTypeOf(raw, mediaType))
}

// parseList parses raw as mediaType, which MediaTypeOf gave.
func parseList(raw []byte, mediaType string) (*List, error) {
	switch mediaType {
	case manifest.DockerV2ListMediaType:
		s2, err := manifest.Schema2ListFromManifest(raw)
		if err != nil {
			return nil, fmt.Errorf("parse Docker manifest list: %w", err)
		}
		l := &List{MediaType: mediaType, Manifests: make([]imgspecv1.Descriptor, 0, len(s2.Manifests))}
		for _, m := range s2.Manifests {
			d := imgspecv1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, URLs: m.URLs}
			ps := m.Platform
			if ps.OS != "" || ps.Architecture != "" || ps.Variant != "" || ps.OSVersion != "" || len(ps.OSFeatures) > 0 {
				d.Platform = &imgspecv1.Platform{
					OS: ps.OS, Architecture: ps.Architecture, Variant: ps.Variant,
					OSVersion: ps.OSVersion, OSFeatures: ps.OSFeatures,
				}
			}
			l.Manifests = append(l.Manifests, d)
		}
		if err := checkEntries(l.Manifests); err != nil {
			return nil, fmt.Errorf("parse Docker manifest list: %w", err)
		}
		return l, nil
	case imgspecv1.MediaTypeImageIndex:
		idx, err := manifest.OCI1IndexFromManifest(raw)
		if err != nil {
			return nil, fmt.Errorf("parse OCI index: %w", err)
		}
		if err := checkEntries(idx.Manifests); err != nil {
			return nil, fmt.Errorf("parse OCI index: %w", err)
		}
		return &List{
			MediaType:    mediaType,
			ArtifactType: idx.ArtifactType,
			Annotations:  idx.Annotations,
			Subject:      idx.Subject,
			Manifests:    idx.Manifests,
		}, nil
	case manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest,
		manifest.DockerV2Schema1MediaType, manifest.DockerV2Schema1SignedMediaType:
		return nil, fmt.Errorf("%s is a single image manifest, not a list", mediaType)
	case "":
		return nil, fmt.Errorf("unrecognised manifest: expected a Docker manifest list or an OCI index")
	default:
		return nil, fmt.Errorf("unsupported media type %q: expected %s or %s", mediaType, manifest.DockerV2ListMediaType, imgspecv1.MediaTypeImageIndex)
	}
}

// checkEntries holds what a registry sends to the rules for what a user
// types: sha256 digests (the only ones anything here can verify) and
// platforms ValidatePlatform accepts. Attestation entries keep their
// unknown/unknown platform.
func checkEntries(descs []imgspecv1.Descriptor) error {
	for i, d := range descs {
		if err := CheckDigest(d.Digest); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if d.Size < 0 {
			return fmt.Errorf("entry %d (%s): negative size %d", i, d.Digest, d.Size)
		}
		// An empty platform object is no platform, as for a Docker list.
		if p := d.Platform; p != nil && !IsAttestation(d) && (p.OS != "" || p.Architecture != "" || p.Variant != "") {
			if err := ValidatePlatform(*p); err != nil {
				return fmt.Errorf("entry %d (%s): %w", i, d.Digest, err)
			}
		}
	}
	return nil
}

// CheckDigest accepts a well-formed sha256 digest. Other algorithms are
// refused up front: every manifest and blob is hashed with sha256, so a
// sha512 digest could never be verified.
func CheckDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("invalid digest %q: %w", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("digest %s: algorithm %s is not supported; use sha256", d, d.Algorithm())
	}
	return nil
}

// Serialize encodes the list compactly, as containers/image does. Because
// re-encoding changes a list's digest, callers that changed nothing should
// push the bytes they read instead.
func (l *List) Serialize() ([]byte, error) {
	switch l.MediaType {
	case manifest.DockerV2ListMediaType:
		if err := l.checkDocker(); err != nil {
			return nil, err
		}
		comps := make([]manifest.Schema2ManifestDescriptor, 0, len(l.Manifests))
		for _, m := range l.Manifests {
			comps = append(comps, manifest.Schema2ManifestDescriptor{
				Schema2Descriptor: manifest.Schema2Descriptor{MediaType: m.MediaType, Size: m.Size, Digest: m.Digest, URLs: m.URLs},
				Platform: manifest.Schema2PlatformSpec{
					OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant,
					OSVersion: m.Platform.OSVersion, OSFeatures: m.Platform.OSFeatures,
				},
			})
		}
		return manifest.Schema2ListFromComponents(comps).Serialize()
	case imgspecv1.MediaTypeImageIndex:
		idx := manifest.OCI1IndexFromComponents(l.Manifests, l.Annotations)
		idx.ArtifactType = l.ArtifactType
		idx.Subject = l.Subject
		return idx.Serialize()
	default:
		return nil, fmt.Errorf("invalid list media type %q: expected %s or %s", l.MediaType, manifest.DockerV2ListMediaType, imgspecv1.MediaTypeImageIndex)
	}
}

// checkDocker refuses what a Docker list cannot express. containers/image
// would silently drop annotations and invent the host's platform for
// platform-less entries, so we fail loudly instead.
func (l *List) checkDocker() error {
	switch {
	case len(l.Annotations) > 0:
		return fmt.Errorf("a Docker manifest list cannot carry annotations; use --media-type oci")
	case l.ArtifactType != "":
		return fmt.Errorf("a Docker manifest list cannot carry artifactType %q; use --media-type oci", l.ArtifactType)
	case l.Subject != nil:
		return fmt.Errorf("a Docker manifest list cannot carry a subject (%s); use --media-type oci", l.Subject.Digest)
	}
	for _, m := range l.Manifests {
		if !isDockerChild(m.MediaType) {
			return fmt.Errorf("a Docker manifest list cannot hold %s (%s); use --media-type oci", m.Digest, m.MediaType)
		}
		if len(m.Annotations) > 0 || m.ArtifactType != "" {
			return fmt.Errorf("a Docker manifest list cannot carry annotations (entry %s); use --media-type oci", m.Digest)
		}
		if !hasPlatform(m) {
			return fmt.Errorf("entry %s has no os/architecture, which a Docker manifest list requires; set a platform or use --media-type oci", m.Digest)
		}
	}
	return nil
}

func isDockerChild(mediaType string) bool {
	return mediaType == manifest.DockerV2Schema2MediaType || mediaType == manifest.DockerV2ListMediaType
}

// ListTypes are the short names of the list types ParseListType accepts
// (it also takes the full media types), for messages and completion.
var ListTypes = []string{"docker", "oci"}

// ParseListType maps the accepted spellings of a list type (--media-type,
// a spec's format) to "", "docker" or "oci".
func ParseListType(requested string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(requested)) {
	case "":
		return "", nil
	case "docker", strings.ToLower(manifest.DockerV2ListMediaType):
		return "docker", nil
	case "oci", imgspecv1.MediaTypeImageIndex:
		return "oci", nil
	}
	return "", fmt.Errorf("invalid media type %q: accepted: %s", requested, strings.Join(ListTypes, ", "))
}

// ListMediaType decides the media type of a list holding entries. requested
// is "", "docker" or "oci" (or the full media types). Automatic choice gives
// a Docker list only when every entry is a Docker v2s2 manifest (or Docker
// list) and nothing carries annotations or an artifactType, because only
// then does a Docker list lose nothing; otherwise an OCI index.
func ListMediaType(requested string, entries []imgspecv1.Descriptor, hasAnnotations bool) (string, error) {
	kind, err := ParseListType(requested)
	if err != nil {
		return "", err
	}
	if kind == "oci" {
		return imgspecv1.MediaTypeImageIndex, nil
	}
	var nonDocker, annotated *imgspecv1.Descriptor
	for i := range entries {
		if nonDocker == nil && !isDockerChild(entries[i].MediaType) {
			nonDocker = &entries[i]
		}
		if annotated == nil && (len(entries[i].Annotations) > 0 || entries[i].ArtifactType != "") {
			annotated = &entries[i]
		}
	}
	if kind == "docker" {
		switch {
		case nonDocker != nil:
			return "", fmt.Errorf("a Docker manifest list cannot hold %s (%s); use --media-type oci", nonDocker.Digest, nonDocker.MediaType)
		case hasAnnotations:
			return "", fmt.Errorf("a Docker manifest list cannot carry annotations; use --media-type oci")
		case annotated != nil:
			return "", fmt.Errorf("a Docker manifest list cannot carry annotations (entry %s); use --media-type oci", annotated.Digest)
		}
		return manifest.DockerV2ListMediaType, nil
	}
	if nonDocker != nil || annotated != nil || hasAnnotations {
		return imgspecv1.MediaTypeImageIndex, nil
	}
	return manifest.DockerV2ListMediaType, nil
}

// asIndex is l as an OCI index with the same content, whatever its type,
// for comparing lists.
func (l *List) asIndex() *List {
	c := l.clone()
	c.MediaType = imgspecv1.MediaTypeImageIndex
	return c
}

// clone returns a deep copy, so Merge never aliases its inputs.
func (l *List) clone() *List {
	if l == nil {
		return nil
	}
	idx := manifest.OCI1IndexFromComponents(l.Manifests, l.Annotations)
	c := &List{MediaType: l.MediaType, ArtifactType: l.ArtifactType, Annotations: maps.Clone(l.Annotations), Manifests: idx.Manifests}
	if l.Subject != nil {
		s := *l.Subject
		c.Subject = &s
	}
	return c
}
