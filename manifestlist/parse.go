package manifestlist

import (
	"encoding/json"
	"fmt"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// MediaTypeOf is the one rule for what a manifest is, used by every reader
// (registry answers, drafts, layouts, archives):
//
//  1. the body's own mediaType field, since it is part of the digested bytes
//     and some registries and CDNs serve OCI content with another type;
//  2. else served, the Content-Type or the descriptor's mediaType, when it
//     names a manifest type (application/json, text/plain and
//     application/octet-stream say nothing and are passed over);
//  3. else the shape: schemaVersion 1 is schema 1, "manifests" an OCI index,
//     a config or layers an image manifest (OCI unless the config is
//     Docker's), as OCI image-spec before 1.0.2 wrote them without a
//     mediaType.
//
// It returns "" when none of the three tells.
func MediaTypeOf(raw []byte, served string) string {
	var m struct {
		MediaType     string          `json:"mediaType"`
		SchemaVersion int             `json:"schemaVersion"`
		Signatures    json.RawMessage `json:"signatures"`
		Manifests     json.RawMessage `json:"manifests"`
		Layers        json.RawMessage `json:"layers"`
		Config        *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	isJSON := json.Unmarshal(raw, &m) == nil
	if isJSON && m.MediaType != "" {
		return m.MediaType
	}
	served, _, _ = strings.Cut(served, ";")
	if served = strings.TrimSpace(served); isManifestType(served) {
		return served
	}
	switch {
	case !isJSON:
		return ""
	case m.SchemaVersion == 1 && m.Signatures != nil:
		return manifest.DockerV2Schema1SignedMediaType
	case m.SchemaVersion == 1:
		return manifest.DockerV2Schema1MediaType
	case m.Manifests != nil:
		return imgspecv1.MediaTypeImageIndex
	case m.Config != nil && m.Config.MediaType == manifest.DockerV2Schema2ConfigMediaType:
		return manifest.DockerV2Schema2MediaType
	case m.Config != nil || m.Layers != nil || m.SchemaVersion == 2:
		return imgspecv1.MediaTypeImageManifest
	}
	return ""
}

// isManifestType reports whether mediaType names a kind of manifest.
func isManifestType(mediaType string) bool {
	return IsList(mediaType) || isImageType(mediaType) || isSchema1(mediaType)
}

func isImageType(mediaType string) bool {
	return mediaType == manifest.DockerV2Schema2MediaType || mediaType == imgspecv1.MediaTypeImageManifest
}

func isSchema1(mediaType string) bool {
	return mediaType == manifest.DockerV2Schema1MediaType || mediaType == manifest.DockerV2Schema1SignedMediaType
}

// Kind says what a manifest is.
type Kind int

const (
	// KindImage is a single-image manifest (Docker v2s2 or OCI), including
	// artifacts and BuildKit attestation manifests.
	KindImage Kind = iota
	// KindList is a Docker manifest list or an OCI index.
	KindList
)

func (k Kind) String() string {
	if k == KindList {
		return "list"
	}
	return "image"
}

// Parsed is what a manifest is and what it refers to.
type Parsed struct {
	Kind Kind
	// MediaType is the one MediaTypeOf gives.
	MediaType string
	// List is the list model of a list, nil for an image.
	List *List
	// Config is an image's config descriptor.
	Config *imgspecv1.Descriptor
	// Blobs are the config and the layers an image needs in its repository,
	// in manifest order; layers with URLs (foreign layers) are in Foreign
	// instead, since they live outside the registry.
	Blobs   []imgspecv1.Descriptor
	Foreign []ForeignLayer
	// Subject is what the manifest refers to (OCI 1.1), if anything.
	Subject *imgspecv1.Descriptor
	// ArtifactType and Annotations are the manifest's own, an image's or a
	// list's; Docker manifests have neither.
	ArtifactType string
	Annotations  map[string]string
}

// ForeignLayer is a layer that lives outside the registry, at its
// descriptor's URLs.
type ForeignLayer struct {
	imgspecv1.Descriptor
}

// Parse is the one manifest parser: it reads a list (as ParseList does) or a
// single-image manifest, whose type MediaTypeOf(raw, mediaType) decides.
// Schema 1 manifests are refused.
func Parse(raw []byte, mediaType string) (Parsed, error) {
	mediaType = MediaTypeOf(raw, mediaType)
	switch {
	case IsList(mediaType):
		l, err := parseList(raw, mediaType)
		if err != nil {
			return Parsed{}, err
		}
		return Parsed{Kind: KindList, MediaType: mediaType, List: l, Subject: l.Subject, ArtifactType: l.ArtifactType, Annotations: l.Annotations}, nil
	case isSchema1(mediaType):
		return Parsed{}, fmt.Errorf("schema 1 manifests (%s) are not supported", mediaType)
	case mediaType == "":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return Parsed{}, fmt.Errorf("parse manifest: %w", err)
		}
		return Parsed{}, fmt.Errorf("parse manifest: it has no mediaType, and neither a list's nor an image's fields")
	case !isImageType(mediaType):
		return Parsed{}, fmt.Errorf("parse manifest: unsupported media type %q: expected a list, an index or an image manifest (%s or %s)",
			mediaType, manifest.DockerV2Schema2MediaType, imgspecv1.MediaTypeImageManifest)
	}
	var m struct {
		Config       *imgspecv1.Descriptor  `json:"config"`
		Layers       []imgspecv1.Descriptor `json:"layers"`
		Manifests    json.RawMessage        `json:"manifests"`
		Subject      *imgspecv1.Descriptor  `json:"subject"`
		ArtifactType string                 `json:"artifactType"`
		Annotations  map[string]string      `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return Parsed{}, fmt.Errorf("parse manifest: %w", err)
	}
	if m.Manifests != nil {
		return Parsed{}, fmt.Errorf("parse manifest: it has entries (a list) but its media type is %q", mediaType)
	}
	p := Parsed{Kind: KindImage, MediaType: mediaType, Config: m.Config, Subject: m.Subject, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	all := make([]imgspecv1.Descriptor, 0, len(m.Layers)+1)
	if m.Config != nil {
		p.Blobs = append(p.Blobs, *m.Config)
		all = append(all, *m.Config)
	}
	for _, l := range m.Layers {
		all = append(all, l)
		if len(l.URLs) > 0 {
			p.Foreign = append(p.Foreign, ForeignLayer{Descriptor: l})
			continue
		}
		p.Blobs = append(p.Blobs, l)
	}
	for _, b := range all {
		if err := b.Digest.Validate(); err != nil {
			return Parsed{}, fmt.Errorf("parse manifest: blob %q: %w", b.Digest, err)
		}
		if b.Size < 0 {
			return Parsed{}, fmt.Errorf("parse manifest: blob %s: negative size %d", b.Digest, b.Size)
		}
	}
	return p, nil
}
