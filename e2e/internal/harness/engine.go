package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// EngineImage is what `docker pull --platform` of one image a list names
// must give: the image whose config is Config (its ID in the classic image
// store) with the layers DiffIDs, for OS, Architecture and Variant as its
// config says.
type EngineImage struct {
	Platform     string // the list entry's "os/arch[/variant]", for --platform
	Manifest     string // the image manifest's digest
	Config       string
	DiffIDs      []string
	OS           string
	Architecture string
	Variant      string
}

// EngineImages reads repo:ref and returns the images an engine can pull
// from it: every image entry of a list (attestations and nested lists left
// out), or the image itself. top is the digest ref resolves to.
func (c *Client) EngineImages(repo, ref string) (top string, imgs []EngineImage, err error) {
	m, err := c.GetManifest(repo, ref)
	if err != nil {
		return "", nil, err
	}
	if m.Status != http.StatusOK {
		return "", nil, fmt.Errorf("%s:%s answered %d", repo, ref, m.Status)
	}
	if !m.IsList() {
		img, err := c.engineImage(repo, m, "")
		return m.Digest, []EngineImage{img}, err
	}
	ix, err := m.Index()
	if err != nil {
		return "", nil, err
	}
	for _, d := range ix.Images() {
		if d.MediaType == MediaTypeOCIIndex || d.MediaType == MediaTypeDockerList || d.Platform == nil {
			continue
		}
		child, err := c.GetManifest(repo, d.Digest)
		if err != nil {
			return "", nil, err
		}
		img, err := c.engineImage(repo, child, d.Platform.String())
		if err != nil {
			return "", nil, err
		}
		imgs = append(imgs, img)
	}
	return m.Digest, imgs, nil
}

func (c *Client) engineImage(repo string, m Manifest, platform string) (EngineImage, error) {
	im, err := m.ImageManifest()
	if err != nil {
		return EngineImage{}, fmt.Errorf("%s@%s: %w", repo, m.Digest, err)
	}
	raw, err := c.GetBlob(repo, im.Config.Digest)
	if err != nil {
		return EngineImage{}, fmt.Errorf("config %s of %s@%s: %w", im.Config.Digest, repo, m.Digest, err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return EngineImage{}, fmt.Errorf("config %s of %s@%s: %w", im.Config.Digest, repo, m.Digest, err)
	}
	if platform == "" {
		platform = Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}.String()
	}
	return EngineImage{Platform: platform, Manifest: m.Digest, Config: im.Config.Digest, DiffIDs: cfg.RootFS.DiffIDs,
		OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, nil
}
