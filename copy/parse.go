package copy

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

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

// Parsed is what the engine needs of a manifest: what it is and what it
// refers to.
type Parsed struct {
	Kind      Kind
	MediaType string
	// List is the list model of a list (manifestlist's), nil for an image.
	List *manifestlist.List
	// Config is an image's config descriptor.
	Config *registry.Descriptor
	// Blobs are the config and the layers an image needs in its repository,
	// in manifest order; layers with URLs (foreign layers) are in Foreign
	// instead, since they live outside the registry.
	Blobs   []registry.Descriptor
	Foreign []ForeignLayer
	// Subject is what the manifest refers to (OCI 1.1), if anything.
	Subject *imgspecv1.Descriptor
}

// ForeignLayer is a layer that lives outside the registry, at URLs.
type ForeignLayer struct {
	registry.Descriptor
	URLs []string
}

// Parse is the one manifest parser of the engine: it reads a list (through
// manifestlist.ParseList) or a single-image manifest. An empty mediaType is
// taken from the bytes.
func Parse(raw []byte, mediaType string) (Parsed, error) {
	if mediaType == "" || mediaType == "application/json" || mediaType == "text/plain" {
		var probe struct {
			MediaType string          `json:"mediaType"`
			Manifests json.RawMessage `json:"manifests"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return Parsed{}, fmt.Errorf("parse manifest: %w", err)
		}
		switch {
		case probe.MediaType != "":
			mediaType = probe.MediaType
		case probe.Manifests != nil:
			mediaType = imgspecv1.MediaTypeImageIndex
		default:
			mediaType = manifest.GuessMIMEType(raw)
		}
	}
	mediaType = manifest.NormalizedMIMEType(mediaType)
	if manifestlist.IsList(mediaType) {
		l, err := manifestlist.ParseList(raw, mediaType)
		if err != nil {
			return Parsed{}, err
		}
		return Parsed{Kind: KindList, MediaType: mediaType, List: l, Subject: l.Subject}, nil
	}
	switch mediaType {
	case manifest.DockerV2Schema1MediaType, manifest.DockerV2Schema1SignedMediaType:
		return Parsed{}, fmt.Errorf("schema 1 manifests (%s) are not supported", mediaType)
	}
	var m struct {
		Config *struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
		} `json:"config"`
		Layers []struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
			URLs      []string      `json:"urls"`
		} `json:"layers"`
		Manifests json.RawMessage       `json:"manifests"`
		Subject   *imgspecv1.Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return Parsed{}, fmt.Errorf("parse manifest: %w", err)
	}
	if m.Manifests != nil {
		return Parsed{}, fmt.Errorf("parse manifest: it has entries (a list) but its media type is %q", mediaType)
	}
	p := Parsed{Kind: KindImage, MediaType: mediaType, Subject: m.Subject}
	if m.Config != nil {
		c := registry.Descriptor{MediaType: m.Config.MediaType, Digest: m.Config.Digest, Size: m.Config.Size}
		p.Config = &c
		p.Blobs = append(p.Blobs, c)
	}
	for _, l := range m.Layers {
		d := registry.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
		if len(l.URLs) > 0 {
			p.Foreign = append(p.Foreign, ForeignLayer{Descriptor: d, URLs: l.URLs})
			continue
		}
		p.Blobs = append(p.Blobs, d)
	}
	all := slices.Clone(p.Blobs)
	for _, f := range p.Foreign {
		all = append(all, f.Descriptor)
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
