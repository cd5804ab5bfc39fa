package registry

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Reference is an image reference split the way registry requests need it.
type Reference struct {
	Host       string        // reference domain: "docker.io", "127.0.0.1:5000"
	Repository string        // path inside the registry: "library/alpine", "team/app"
	Tag        string        // empty when only a digest was given
	Digest     digest.Digest // empty unless given
}

// ParseReference normalises s the way the Docker CLI does (docker.io,
// library/, :latest when neither tag nor digest is given).
func ParseReference(s string) (Reference, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	r := Reference{Host: reference.Domain(named), Repository: reference.Path(named)}
	if r.Host == "" {
		// "a_b.c/app" looks like a host to the normaliser (it has a dot) but
		// is not one to the grammar ("_"), which then reads it all as a path.
		return Reference{}, fmt.Errorf("invalid reference %q: %q is neither a registry host nor a repository on docker.io", s, strings.SplitN(s, "/", 2)[0])
	}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest()
		// Manifests are hashed with sha256 everywhere; another algorithm
		// could never be verified.
		if r.Digest.Algorithm() != digest.SHA256 {
			return Reference{}, fmt.Errorf("invalid reference %q: digest algorithm %s is not supported; use a sha256 digest", s, r.Digest.Algorithm())
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// Name is host/repository.
func (r Reference) Name() string { return r.Host + "/" + r.Repository }

// Ref is what goes in a manifest URL: the digest when known, else the tag.
func (r Reference) Ref() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// String is the normalised reference, host/repo:tag, host/repo@digest, or both.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// WithDigest returns the reference to d in the same repository, without a tag.
func (r Reference) WithDigest(d digest.Digest) Reference {
	return Reference{Host: r.Host, Repository: r.Repository, Digest: d}
}
