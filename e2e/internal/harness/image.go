package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Media types the harness writes and recognises.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	// MediaTypeDockerForeignLayer is a layer fetched from its URLs, not
	// from the registry.
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIConfig          = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayer           = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeInToto             = "application/vnd.in-toto+json"

	// AnnotationReferenceType and AnnotationReferenceDigest mark buildx
	// attestation manifests in an index.
	AnnotationReferenceType   = "vnd.docker.reference.type"
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	AttestationManifest       = "attestation-manifest"
)

// Platform is an OCI platform, with the JSON names of the image spec.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q is not os/arch[/variant]", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// String returns "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Platform     *Platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
}

// IsAttestation reports whether d is a buildx attestation manifest entry.
func (d Descriptor) IsAttestation() bool {
	return d.Annotations[AnnotationReferenceType] == AttestationManifest
}

// Index is a Docker manifest list or an OCI image index.
type Index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []Descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Images returns the entries that are not attestations.
func (ix Index) Images() []Descriptor {
	var out []Descriptor
	for _, d := range ix.Manifests {
		if !d.IsAttestation() {
			out = append(out, d)
		}
	}
	return out
}

// Attestations returns the attestation entries.
func (ix Index) Attestations() []Descriptor {
	var out []Descriptor
	for _, d := range ix.Manifests {
		if d.IsAttestation() {
			out = append(out, d)
		}
	}
	return out
}

// ForPlatform returns the first non-attestation entry for "os/arch[/variant]".
func (ix Index) ForPlatform(platform string) (Descriptor, bool) {
	for _, d := range ix.Images() {
		if d.Platform != nil && d.Platform.String() == platform {
			return d, true
		}
	}
	return Descriptor{}, false
}

// Platforms lists the "os/arch[/variant]" of the non-attestation entries, in order.
func (ix Index) Platforms() []string {
	var out []string
	for _, d := range ix.Images() {
		if d.Platform != nil {
			out = append(out, d.Platform.String())
		} else {
			out = append(out, "")
		}
	}
	return out
}

// ImageManifest is a Docker v2s2 or OCI image manifest.
type ImageManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// imageConfig is the part of the image config the harness writes.
type imageConfig struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
	Created      string   `json:"created,omitempty"`
	Config       struct{} `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// ImageOptions shape a synthetic image.
type ImageOptions struct {
	OCI       bool // OCI manifest and media types; default Docker v2s2
	Layers    int  // number of layers; 0 means 1, negative means none
	LayerSize int  // bytes of random content per layer; 0 means 256
	OSVersion string
	// OSFeatures go into the image's platform (its list entry) and config,
	// as Windows images carry win32k.
	OSFeatures []string
	// Annotations go into the manifest (OCI only).
	Annotations map[string]string
}

// Image is an image pushed by PushImage.
type Image struct {
	Repo      string
	Tag       string // "" when pushed by digest only
	Digest    string
	MediaType string
	Raw       []byte
	Platform  Platform
	Config    Descriptor
	Layers    []Descriptor
}

// Descriptor returns the index entry for the image, with its platform.
func (i Image) Descriptor() Descriptor {
	p := i.Platform
	return Descriptor{MediaType: i.MediaType, Digest: i.Digest, Size: int64(len(i.Raw)), Platform: &p}
}

// PushImage builds a small real image for platform ("linux/arm/v7") and
// pushes it as repo:tag (by digest only when tag is ""). Each layer is a
// gzipped tar holding one file of random bytes, so every call makes new
// digests; the config carries matching rootfs.diff_ids, so the Docker engine
// can pull it.
func (c *Client) PushImage(repo, tag, platform string, opts ImageOptions) (Image, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return Image{}, err
	}
	p.OSVersion, p.OSFeatures = opts.OSVersion, opts.OSFeatures
	n := opts.Layers
	if n == 0 {
		n = 1
	}
	size := opts.LayerSize
	if size <= 0 {
		size = 256
	}
	manifestType, configType, layerType := MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayer
	if opts.OCI {
		manifestType, configType, layerType = MediaTypeOCIManifest, MediaTypeOCIConfig, MediaTypeOCILayer
	}

	cfg := imageConfig{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant,
		Created: "2024-01-01T00:00:00Z"}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{}
	var layers []Descriptor
	for i := 0; i < n; i++ {
		tarball, gz, err := randomLayer(i, size)
		if err != nil {
			return Image{}, err
		}
		d, err := c.PushBlob(repo, gz)
		if err != nil {
			return Image{}, err
		}
		layers = append(layers, Descriptor{MediaType: layerType, Digest: d, Size: int64(len(gz))})
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, Digest(tarball))
	}
	config, err := c.pushConfig(repo, configType, cfg)
	if err != nil {
		return Image{}, err
	}
	m := ImageManifest{SchemaVersion: 2, MediaType: manifestType, Config: config, Layers: layers}
	if layers == nil {
		m.Layers = []Descriptor{}
	}
	if opts.OCI {
		m.Annotations = opts.Annotations
	}
	return c.putImage(repo, tag, m, p)
}

// pushConfig uploads an image config and returns its descriptor.
func (c *Client) pushConfig(repo, mediaType string, cfg imageConfig) (Descriptor, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return Descriptor{}, err
	}
	d, err := c.PushBlob(repo, b)
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

// putImage writes an image manifest under tag, or by digest when tag is "".
func (c *Client) putImage(repo, tag string, m ImageManifest, p Platform) (Image, error) {
	raw, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return Image{}, err
	}
	img := Image{Repo: repo, Tag: tag, MediaType: m.MediaType, Raw: raw, Platform: p, Config: m.Config, Layers: m.Layers}
	ref := tag
	if ref == "" {
		ref = Digest(raw)
	}
	if img.Digest, err = c.PutManifest(repo, ref, m.MediaType, raw); err != nil {
		return Image{}, err
	}
	return img, nil
}

// randomLayer returns a tar with one file of random content, and its gzip.
func randomLayer(i, size int) (tarball, gz []byte, err error) {
	content := make([]byte, size)
	if _, err := rand.Read(content); err != nil {
		return nil, nil, err
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "e2e/", Mode: 0o755, ModTime: mtime}); err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("e2e/layer%d-%s.bin", i, hex.EncodeToString(content[:min(4, len(content))]))
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size), ModTime: mtime}); err != nil {
		return nil, nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	if _, err := zw.Write(tb.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return tb.Bytes(), zb.Bytes(), nil
}

// ListOptions shape a list pushed by PushList.
type ListOptions struct {
	// OCI writes an OCI image index; default a Docker manifest list.
	OCI bool
	// Attestations adds a buildx-style attestation manifest for every image
	// (needs OCI).
	Attestations bool
	// Annotations go into the index (OCI only).
	Annotations map[string]string
}

// List is a list pushed by PushList.
type List struct {
	Repo         string
	Tag          string
	Digest       string
	MediaType    string
	Raw          []byte
	Images       []Image
	Attestations []Image // Attestations[i] attests Images[i]
}

// PushList pushes a list of already-pushed images as repo:tag. Images that
// live in another repository of the same registry are first brought into
// repo (blob mount, then the manifest by digest), since a registry accepts a
// list only when every child is in the same repository.
func (c *Client) PushList(repo, tag string, images []Image, opts ListOptions) (List, error) {
	if opts.Attestations && !opts.OCI {
		return List{}, errors.New("attestation manifests need an OCI index (ListOptions.OCI)")
	}
	listType := MediaTypeDockerList
	if opts.OCI {
		listType = MediaTypeOCIIndex
	}
	l := List{Repo: repo, Tag: tag, MediaType: listType}
	ix := Index{SchemaVersion: 2, MediaType: listType, Manifests: []Descriptor{}}
	if opts.OCI {
		ix.Annotations = opts.Annotations
	}
	if err := c.addImages(&l, &ix, repo, images); err != nil {
		return List{}, err
	}
	if opts.Attestations {
		for _, img := range l.Images {
			att, err := c.pushAttestation(repo, img)
			if err != nil {
				return List{}, err
			}
			l.Attestations = append(l.Attestations, att)
			ix.Manifests = append(ix.Manifests, Descriptor{
				MediaType: att.MediaType, Digest: att.Digest, Size: int64(len(att.Raw)),
				Platform: &Platform{OS: "unknown", Architecture: "unknown"},
				Annotations: map[string]string{
					AnnotationReferenceType:   AttestationManifest,
					AnnotationReferenceDigest: img.Digest,
				},
			})
		}
	}
	// Indented as `docker manifest push` writes lists: bytes the plugin
	// does not write, so a byte-identity check cannot pass by re-serialising.
	raw, err := json.MarshalIndent(ix, "", "   ")
	if err != nil {
		return List{}, err
	}
	l.Raw = raw
	if l.Digest, err = c.PutManifest(repo, tag, listType, raw); err != nil {
		return List{}, err
	}
	return l, nil
}

// copyImage brings img into repo on the same registry, by mount or by
// download and upload.
func (c *Client) copyImage(img Image, repo string) (Image, error) {
	for _, d := range append([]Descriptor{img.Config}, img.Layers...) {
		mounted, err := c.MountBlob(repo, img.Repo, d.Digest)
		if err != nil {
			return Image{}, err
		}
		if !mounted {
			data, err := c.GetBlob(img.Repo, d.Digest)
			if err != nil {
				return Image{}, err
			}
			if _, err := c.PushBlob(repo, data); err != nil {
				return Image{}, err
			}
		}
	}
	if _, err := c.PutManifest(repo, img.Digest, img.MediaType, img.Raw); err != nil {
		return Image{}, err
	}
	img.Repo, img.Tag = repo, ""
	return img, nil
}

// pushAttestation pushes a buildx-style attestation manifest for img, by
// digest: an OCI manifest with an OCI config and one in-toto layer.
func (c *Client) pushAttestation(repo string, img Image) (Image, error) {
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://spdx.dev/Document",
		"subject": []map[string]any{{
			"name":   "pkg:docker/" + repo + "?platform=" + strings.ReplaceAll(img.Platform.String(), "/", "%2F"),
			"digest": map[string]string{"sha256": strings.TrimPrefix(img.Digest, "sha256:")},
		}},
		"predicate": map[string]any{"spdxVersion": "SPDX-2.3", "name": "e2e"},
	})
	if err != nil {
		return Image{}, err
	}
	layerDigest, err := c.PushBlob(repo, stmt)
	if err != nil {
		return Image{}, err
	}
	cfg := imageConfig{Architecture: "unknown", OS: "unknown"}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{layerDigest}
	config, err := c.pushConfig(repo, MediaTypeOCIConfig, cfg)
	if err != nil {
		return Image{}, err
	}
	m := ImageManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: config,
		Layers: []Descriptor{{MediaType: MediaTypeInToto, Digest: layerDigest, Size: int64(len(stmt)),
			Annotations: map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"}}},
	}
	return c.putImage(repo, "", m, Platform{OS: "unknown", Architecture: "unknown"})
}

// addImages adds images to a list being built in repo, copying those that
// live in another repository there first: a list's entries must be in its
// repository.
func (c *Client) addImages(l *List, ix *Index, repo string, images []Image) error {
	for _, img := range images {
		if img.Repo != repo {
			var err error
			if img, err = c.copyImage(img, repo); err != nil {
				return err
			}
		}
		l.Images = append(l.Images, img)
		ix.Manifests = append(ix.Manifests, img.Descriptor())
	}
	return nil
}
