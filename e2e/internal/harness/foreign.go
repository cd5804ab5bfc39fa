package harness

// PushForeignImage pushes, as repo:tag, a Docker image for platform whose
// first layer is foreign (media type ...foreign.diff.tar.gzip, with url as
// its only URL, as Windows base images name theirs) and whose second is an
// ordinary layer. The foreign layer's blob is not pushed: it is returned,
// for a server at url to serve.
func (c *Client) PushForeignImage(repo, tag, platform, url string) (Image, []byte, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return Image{}, nil, err
	}
	cfg := imageConfig{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant, Created: "2024-01-01T00:00:00Z"}
	cfg.RootFS.Type = "layers"
	foreignTar, foreignGz, err := randomLayer(0, 512)
	if err != nil {
		return Image{}, nil, err
	}
	tb, gz, err := randomLayer(1, 256)
	if err != nil {
		return Image{}, nil, err
	}
	d, err := c.PushBlob(repo, gz)
	if err != nil {
		return Image{}, nil, err
	}
	cfg.RootFS.DiffIDs = []string{Digest(foreignTar), Digest(tb)}
	config, err := c.pushConfig(repo, MediaTypeDockerConfig, cfg)
	if err != nil {
		return Image{}, nil, err
	}
	m := ImageManifest{SchemaVersion: 2, MediaType: MediaTypeDockerManifest, Config: config, Layers: []Descriptor{
		{MediaType: MediaTypeDockerForeignLayer, Digest: Digest(foreignGz), Size: int64(len(foreignGz)), URLs: []string{url}},
		{MediaType: MediaTypeDockerLayer, Digest: d, Size: int64(len(gz))},
	}}
	img, err := c.putImage(repo, tag, m, p)
	return img, foreignGz, err
}
