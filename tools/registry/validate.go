package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// validateTarget checks what target names with go-containerregistry's
// validate package, an implementation independent of docker-mlist's: every
// manifest, config and layer against its descriptor (digest, size, media
// type), every layer's diffID against the config. target is one of
//
//	oci:DIR[:TAG]            an OCI layout (every manifest index.json names, or TAG)
//	oci-archive:FILE[:TAG]   a tar of an OCI layout
//	docker-archive:FILE      a docker save archive (its first image)
//	HOST/REPO:TAG|@DIGEST    a registry, over plain HTTP
func validateTarget(target string) error {
	transport, rest, _ := strings.Cut(target, ":")
	switch transport {
	case "oci":
		dir, tag, _ := strings.Cut(rest, ":")
		return validateLayout(dir, tag)
	case "oci-archive":
		file, tag, _ := strings.Cut(rest, ":")
		dir, err := os.MkdirTemp("", "mlist-validate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := extract(file, dir); err != nil {
			return err
		}
		return validateLayout(dir, tag)
	case "docker-archive":
		file, _, _ := strings.Cut(rest, ":")
		img, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return err
		}
		return validate.Image(img)
	}
	ref, err := name.ParseReference(target, name.Insecure)
	if err != nil {
		return fmt.Errorf("%q: expected oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or a registry reference: %w", target, err)
	}
	desc, err := remote.Get(ref)
	if err != nil {
		return err
	}
	if desc.MediaType.IsIndex() {
		ix, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return validate.Index(ix)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return validate.Image(img)
}

// validateLayout validates the manifest index.json names tag, or with no
// tag the whole layout as one index.
func validateLayout(dir, tag string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	ix, err := p.ImageIndex()
	if err != nil {
		return err
	}
	if tag == "" {
		return validate.Index(ix)
	}
	m, err := ix.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != tag {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := ix.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			return validate.Index(child)
		}
		img, err := ix.Image(d.Digest)
		if err != nil {
			return err
		}
		return validateImageAt(img, d)
	}
	return fmt.Errorf("%s: index.json names no manifest %q", dir, tag)
}

// validateImageAt validates img and that the descriptor naming it is right.
func validateImageAt(img v1.Image, d v1.Descriptor) error {
	if err := validate.Image(img); err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if h, _, _ := v1.SHA256(strings.NewReader(string(raw))); h != d.Digest || int64(len(raw)) != d.Size {
		return fmt.Errorf("index.json names %s (%d bytes); the manifest is %s (%d bytes)", d.Digest, d.Size, h, len(raw))
	}
	return nil
}

// extract unpacks the regular files and directories of a tar into dir.
func extract(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
