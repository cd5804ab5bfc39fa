package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// readJobs bounds the manifest reads one call runs at once: small GETs,
// bounded as a copy bounds its small requests, so a 16-platform create
// reads in one round.
const readJobs = SmallJobs

// ListRead is a reference read as a list: a single image becomes a list of
// one entry, its platform read from the image config, so list operations
// need not care which they got.
type ListRead struct {
	// Ref is the reference that was read.
	Ref registry.Reference
	// Raw is the registry's exact bytes, Digest their digest and MediaType
	// what they are (the manifest's own mediaType over the Content-Type).
	Raw       []byte
	Digest    digest.Digest
	MediaType string
	// List is the list read, or the list of one a single image makes.
	List *manifestlist.List
	// Single is the entry a single image makes; nil for a list.
	Single *manifestlist.Entry
}

// ReadList reads ref as a list, without reading a list's entries. A single
// image costs one more request (its config, for the platform).
func ReadList(ctx context.Context, c *registry.Client, ref registry.Reference) (*ListRead, error) {
	raw, desc, err := c.GetManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		return nil, err
	}
	mt := manifestlist.MediaTypeOf(raw, desc.MediaType)
	r := &ListRead{Ref: ref, Raw: raw, Digest: desc.Digest, MediaType: mt}
	if strings.HasPrefix(mt, "application/vnd.docker.distribution.manifest.v1") {
		return nil, fmt.Errorf("%s is a schema 1 manifest, which registries no longer accept; rebuild or re-push it", ref)
	}
	if manifestlist.IsList(mt) {
		if r.List, err = manifestlist.ParseList(raw, mt); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return r, nil
	}
	e, err := ImageEntry(ctx, c, ref, raw, mt)
	if err != nil {
		return nil, err
	}
	listType := imgspecv1.MediaTypeImageIndex
	if mt == "application/vnd.docker.distribution.manifest.v2+json" {
		listType = "application/vnd.docker.distribution.manifest.list.v2+json"
	}
	r.List = &manifestlist.List{MediaType: listType, Manifests: []imgspecv1.Descriptor{e.Descriptor}}
	r.Single = &e
	return r, nil
}

// ReadListIfExists is ReadList where a missing manifest is not an error but
// nil: a merge's DESTINATION need not exist yet.
func ReadListIfExists(ctx context.Context, c *registry.Client, ref registry.Reference) (*ListRead, error) {
	r, err := ReadList(ctx, c, ref)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, nil
	}
	return r, err
}

// Fetched is a reference resolved into list entries with their manifests: a
// single image's one entry, or every entry of a list.
type Fetched struct {
	*ListRead
	Entries []manifestlist.Entry
}

// FetchSource reads ref and, for a list, every entry's manifest.
func FetchSource(ctx context.Context, sess *registry.Session, ref registry.Reference) (*Fetched, error) {
	return fetchSource(ctx, sess, ref, make(limiter, readJobs))
}

// fetchSource is FetchSource with its requests under slots.
func fetchSource(ctx context.Context, sess *registry.Session, ref registry.Reference, slots limiter) (*Fetched, error) {
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	var r *ListRead
	if err := slots.do(ctx, func() (err error) {
		r, err = ReadList(ctx, c, ref)
		return err
	}); err != nil {
		return nil, err
	}
	s := &Fetched{ListRead: r}
	if r.Single != nil {
		s.Entries = []manifestlist.Entry{*r.Single}
		return s, nil
	}
	if s.Entries, err = fetchChildren(ctx, c, ref, r.List, slots); err != nil {
		return nil, err
	}
	return s, nil
}

// FetchSources resolves refs concurrently through one session, every
// request of all of them under one limit; the result keeps their order.
func FetchSources(ctx context.Context, sess *registry.Session, refs []registry.Reference) ([]*Fetched, error) {
	out := make([]*Fetched, len(refs))
	slots := make(limiter, readJobs)
	g, ctx := errgroup.WithContext(ctx)
	for i, ref := range refs {
		g.Go(func() (err error) {
			out[i], err = fetchSource(ctx, sess, ref, slots)
			return err
		})
	}
	return out, g.Wait()
}

// FetchChildren reads the manifest of every entry of list, which lives in
// ref's repository, concurrently, each digest once however often the list
// repeats it; the entries keep the list's order and their Source names
// each by digest.
func FetchChildren(ctx context.Context, c *registry.Client, ref registry.Reference, list *manifestlist.List) ([]manifestlist.Entry, error) {
	return fetchChildren(ctx, c, ref, list, make(limiter, readJobs))
}

func fetchChildren(ctx context.Context, c *registry.Client, ref registry.Reference, list *manifestlist.List, slots limiter) ([]manifestlist.Entry, error) {
	out := make([]manifestlist.Entry, len(list.Manifests))
	var reads flights[digest.Digest, []byte]
	g, ctx := errgroup.WithContext(ctx)
	for i, d := range list.Manifests {
		g.Go(func() error {
			raw, err := reads.do(ctx, d.Digest, func() (raw []byte, err error) {
				err = slots.do(ctx, func() (err error) {
					raw, _, err = c.GetManifest(ctx, ref.Repository, d.Digest.String())
					return err
				})
				return raw, err
			})
			if err != nil {
				return fmt.Errorf("entry %s of %s: %w", d.Digest, ref, err)
			}
			out[i] = manifestlist.Entry{Source: ref.WithDigest(d.Digest).String(), Descriptor: d, Raw: raw}
			return nil
		})
	}
	return out, g.Wait()
}

// ImageEntry makes a list entry of a single image (raw, of media type mt,
// read from ref), its platform read from the image config as docker
// manifest create does.
func ImageEntry(ctx context.Context, c *registry.Client, ref registry.Reference, raw []byte, mt string) (manifestlist.Entry, error) {
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
	var config *imgspecv1.Platform
	if m.Config.MediaType == "application/vnd.docker.container.image.v1+json" || m.Config.MediaType == imgspecv1.MediaTypeImageConfig {
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
			c := p
			config = &c
		}
	}
	return manifestlist.Entry{Source: ref.String(), Descriptor: d, Raw: raw, Config: config}, nil
}
