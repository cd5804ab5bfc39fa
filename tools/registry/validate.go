package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// runValidate is the validate subcommand: go-containerregistry's
// pkg/v1/validate (what `crane validate` runs) over a registry reference,
// an OCI layout directory or an OCI archive, so tests check every result
// with a validator that is not docker-mlist's own:
//
//	mlist-registry validate [-ca FILE] HOST/REPO:TAG|HOST/REPO@DIGEST
//	mlist-registry validate oci:DIR | oci-archive:FILE | docker-archive:FILE
//
// It checks every manifest's digest and size, every layer's digest and
// diff ID, each image's config, and each index entry's media type and
// platform against its image's config (see validateIndex for BuildKit
// attestations). MLIST_VALIDATE_USER and
// MLIST_VALIDATE_PASSWORD are registry credentials. Exit status 1 and the
// problems on stderr when the content is invalid.
func runValidate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	ca := fs.String("ca", "", "CA certificate to trust for HTTPS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("validate takes one reference: HOST/REPO:TAG, oci:DIR, oci-archive:FILE or docker-archive:FILE")
	}
	target := fs.Arg(0)
	if dir, ok := strings.CutPrefix(target, "oci:"); ok {
		return validateLayout(dir)
	}
	if file, ok := strings.CutPrefix(target, "oci-archive:"); ok {
		return validateArchive(file)
	}
	if file, ok := strings.CutPrefix(target, "docker-archive:"); ok {
		file, _, _ = strings.Cut(file, ":")
		img, err := tarball.ImageFromPath(file, nil) // its first image, as docker load reads it
		if err != nil {
			return err
		}
		return validate.Image(img)
	}
	ref, err := name.ParseReference(target, name.Insecure, name.StrictValidation)
	if err != nil {
		return err
	}
	opts := []remote.Option{}
	if u := os.Getenv("MLIST_VALIDATE_USER"); u != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: u, Password: os.Getenv("MLIST_VALIDATE_PASSWORD")}))
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-ca %s: no certificate in it", *ca)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		opts = append(opts, remote.WithTransport(tr))
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return validateIndex(idx)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return validate.Image(img)
}

// validateLayout validates an OCI layout's index.json with everything it
// holds.
func validateLayout(dir string) error {
	if i := strings.LastIndex(dir, ":"); i > 0 {
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
			dir = dir[:i] // a oci:DIR:TAG reference: the whole layout is checked
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return err
	}
	return validateIndex(idx)
}

// attestation matches BuildKit's attestation manifests.
var attestation = match.Annotation("vnd.docker.reference.type", "attestation-manifest")

// validateIndex is validate.Index, except for BuildKit attestation
// manifests, which it refuses: their config lists a diff ID for each in-toto
// layer, which validate does not count as a layer. Attestations get every
// blob checked against its digest instead; nested indexes are walked the
// same way.
func validateIndex(idx v1.ImageIndex) error {
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var errs []error
	nested := match.MediaTypes(string(types.OCIImageIndex), string(types.DockerManifestList))
	if err := validate.Index(mutate.RemoveManifests(idx, func(d v1.Descriptor) bool { return attestation(d) || nested(d) })); err != nil {
		errs = append(errs, err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	if d, err := idx.Digest(); err != nil || d.String() != "sha256:"+fmt.Sprintf("%x", sha256.Sum256(raw)) {
		errs = append(errs, fmt.Errorf("index digest %s does not match its bytes (%v)", d, err))
	}
	for i, d := range m.Manifests {
		switch {
		case nested(d):
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := validateIndex(child); err != nil {
				errs = append(errs, fmt.Errorf("index Manifests[%d](%s): %w", i, d.Digest, err))
			}
		case attestation(d):
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := validateBlobs(img); err != nil {
				errs = append(errs, fmt.Errorf("attestation Manifests[%d](%s): %w", i, d.Digest, err))
			}
		}
	}
	return errors.Join(errs...)
}

// validateBlobs checks an image's manifest, config and every layer against
// their digests.
func validateBlobs(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(cfg)); got != m.Config.Digest.String() {
		return fmt.Errorf("config %s has digest %s", m.Config.Digest, got)
	}
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return err
		}
		if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != l.Digest.String() || n != l.Size {
			return fmt.Errorf("layer %s: %d bytes with digest %s, want %d bytes", l.Digest, n, got, l.Size)
		}
	}
	return nil
}

// validateArchive unpacks an OCI archive into a temporary directory and
// validates it as a layout.
func validateArchive(file string) error {
	if i := strings.LastIndex(file, ":"); i > 0 {
		if _, err := os.Stat(file); err != nil {
			file = file[:i]
		}
	}
	dir, err := os.MkdirTemp("", "mlist-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
	return validateLayout(dir)
}
