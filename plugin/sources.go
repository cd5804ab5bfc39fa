package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fetched is one source resolved from a registry: a single image, or a list
// with the raw bytes of every entry.
type fetched struct {
	*listRead
	entries []manifestlist.Entry
}

// fetchAll resolves sources concurrently, one registry session for all of
// them. Results keep the argument order.
func fetchAll(ctx context.Context, sess *registry.Session, refs []registry.Reference) ([]*fetched, error) {
	out := make([]*fetched, len(refs))
	err := copy.ForEach(ctx, refs, func(ctx context.Context, i int, ref registry.Reference) (err error) {
		out[i], err = fetchSource(ctx, sess, ref)
		return err
	})
	return out, err
}

func fetchSource(ctx context.Context, sess *registry.Session, ref registry.Reference) (*fetched, error) {
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	r, err := readList(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	f := &fetched{listRead: r}
	if r.single != nil {
		f.entries = []manifestlist.Entry{*r.single}
		return f, nil
	}
	if f.entries, err = fetchChildren(ctx, sess, ref, r.list); err != nil {
		return nil, err
	}
	return f, nil
}

// singleEntry makes a list entry of a single image, its platform read from
// the image config as docker manifest create does.
func singleEntry(ctx context.Context, c *registry.Client, ref registry.Reference, raw []byte, mt string) (manifestlist.Entry, error) {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return manifestlist.Entry{}, fmt.Errorf("%s: parse manifest: %w", ref, err)
	}
	d := imgspecv1.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw)), ArtifactType: m.ArtifactType}
	if isImageConfig(m.Config.MediaType) {
		cfg, err := c.ReadBlob(ctx, ref.Repository, m.Config.Digest, 4<<20)
		if err != nil {
			return manifestlist.Entry{}, fmt.Errorf("config of %s: %w", ref, err)
		}
		var p imgspecv1.Platform
		if err := json.Unmarshal(cfg, &p); err != nil {
			return manifestlist.Entry{}, fmt.Errorf("config of %s: %w", ref, err)
		}
		if p.OS != "" || p.Architecture != "" {
			d.Platform = &p
		}
	}
	return manifestlist.Entry{Source: ref.String(), Descriptor: d, Raw: raw}, nil
}

func isImageConfig(mt string) bool {
	return mt == "application/vnd.docker.container.image.v1+json" || mt == imgspecv1.MediaTypeImageConfig
}

func isSchema1(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.docker.distribution.manifest.v1")
}

// mediaTypeOf trusts the manifest's own mediaType field over the registry's
// Content-Type, which some registries get wrong for OCI content.
func mediaTypeOf(raw []byte, served string) string {
	var m struct {
		MediaType     string          `json:"mediaType"`
		SchemaVersion int             `json:"schemaVersion"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
	}
	if json.Unmarshal(raw, &m) == nil {
		switch {
		case m.MediaType != "":
			return m.MediaType
		case m.SchemaVersion == 1:
			return "application/vnd.docker.distribution.manifest.v1+json"
		case m.Manifests != nil:
			return imgspecv1.MediaTypeImageIndex
		case m.Config != nil:
			return imgspecv1.MediaTypeImageManifest
		}
	}
	return served
}

// listRead is a reference read as a list: a single image becomes a list of
// one entry, so list operations need not care which they got.
type listRead struct {
	ref    registry.Reference
	raw    []byte
	digest digest.Digest
	list   *manifestlist.List
	// single is the entry a single image makes; nil for a list.
	single *manifestlist.Entry
}

// readList reads ref as a list, without fetching a list's entries.
func readList(ctx context.Context, c *registry.Client, ref registry.Reference) (*listRead, error) {
	raw, desc, err := c.GetManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		return nil, err
	}
	r := &listRead{ref: ref, raw: raw, digest: desc.Digest}
	mt := mediaTypeOf(raw, desc.MediaType)
	if isSchema1(mt) {
		return nil, fmt.Errorf("%s is a schema 1 manifest, which registries no longer accept; rebuild or re-push it", ref)
	}
	if manifestlist.IsList(mt) {
		if r.list, err = manifestlist.ParseList(raw, mt); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return r, nil
	}
	e, err := singleEntry(ctx, c, ref, raw, mt)
	if err != nil {
		return nil, err
	}
	listType := imgspecv1.MediaTypeImageIndex
	if mt == "application/vnd.docker.distribution.manifest.v2+json" {
		listType = "application/vnd.docker.distribution.manifest.list.v2+json"
	}
	r.list = &manifestlist.List{MediaType: listType, Manifests: []imgspecv1.Descriptor{e.Descriptor}}
	r.single = &e
	return r, nil
}
