package harness

import (
	"archive/tar"
	"encoding/json"
	"os"
	"strings"
)

// SavedImage is an image WriteDockerSave wrote.
type SavedImage struct {
	Platform Platform
	// Config is the config's digest; DiffIDs the layers' (uncompressed tar)
	// digests, which the config lists.
	Config  string
	DiffIDs []string
}

// WriteDockerSave writes file as `docker save` (before Docker 25) does for
// one image tagged tag: manifest.json, the config as <hex>.json, and each
// layer uncompressed as <hex>/layer.tar, with layers random layers of 256
// bytes of content each.
func WriteDockerSave(file, tag, platform string, layers int) (SavedImage, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return SavedImage{}, err
	}
	cfg := imageConfig{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant, Created: "2024-01-01T00:00:00Z"}
	cfg.RootFS.Type = "layers"
	var tars [][]byte
	for i := range layers {
		tb, _, err := randomLayer(i, 256)
		if err != nil {
			return SavedImage{}, err
		}
		tars = append(tars, tb)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, Digest(tb))
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return SavedImage{}, err
	}
	saved := SavedImage{Platform: p, Config: Digest(config), DiffIDs: cfg.RootFS.DiffIDs}
	hexOf := func(d string) string { return strings.TrimPrefix(d, "sha256:") }
	type entry struct {
		name string
		data []byte
	}
	files := []entry{{hexOf(saved.Config) + ".json", config}}
	var layerNames []string
	for i, tb := range tars {
		layerNames = append(layerNames, hexOf(saved.DiffIDs[i])+"/layer.tar")
		files = append(files, entry{layerNames[i], tb})
	}
	manifest, err := json.Marshal([]any{map[string]any{"Config": files[0].name, "RepoTags": []string{tag}, "Layers": layerNames}})
	if err != nil {
		return SavedImage{}, err
	}
	files = append(files, entry{"manifest.json", manifest})

	f, err := os.Create(file)
	if err != nil {
		return SavedImage{}, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, fl := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fl.name, Mode: 0o644, Size: int64(len(fl.data))}); err != nil {
			return SavedImage{}, err
		}
		if _, err := tw.Write(fl.data); err != nil {
			return SavedImage{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return SavedImage{}, err
	}
	return saved, f.Close()
}
