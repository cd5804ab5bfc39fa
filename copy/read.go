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

	// A SOURCE that is not a registry reference: the layout it was read
	// from (open until Close), or the draft's entries; display names it.
	local   source
	draft   []manifestlist.Entry
	display string
}

// ReadList reads ref as a list, without reading a list's entries. A single
// image costs one more request (its config, for the platform).
func ReadList(ctx context.Context, c *registry.Client, ref registry.Reference) (*ListRead, error) {
	raw, desc, err := c.GetManifest(ctx, ref.Repository, ref.Ref())
	if err != nil {
		return nil, err
	}
	r, err := readList(ctx, Endpoint{Client: c, Repository: ref.Repository}, ref.String(), raw, desc.MediaType, desc.Digest)
	if err != nil {
		return nil, err
	}
	r.Ref = ref
	return r, nil
}

// readList makes a ListRead of the manifest raw (of digest d, served as
// served) that name names, read from at, where a single image's config is.
func readList(ctx context.Context, at holder, name string, raw []byte, served string, d digest.Digest) (*ListRead, error) {
	mt := manifestlist.MediaTypeOf(raw, served)
	r := &ListRead{Raw: raw, Digest: d, MediaType: mt}
	if strings.HasPrefix(mt, "application/vnd.docker.distribution.manifest.v1") {
		return nil, fmt.Errorf("%s is a schema 1 manifest, which registries no longer accept; rebuild or re-push it", name)
	}
	if manifestlist.IsList(mt) {
		var err error
		if r.List, err = manifestlist.ParseList(raw, mt); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return r, nil
	}
	e, err := imageEntry(ctx, at, name, raw, mt)
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

// FetchSource reads ref and, for a list, every entry's manifest, asking
// sess for the pull scope it needs.
func FetchSource(ctx context.Context, sess *registry.Session, ref registry.Reference) (*Fetched, error) {
	sess.Want(ref.Host, ref.Repository, "pull")
	return fetchSource(ctx, sess, ref, make(limiter, readJobs), false)
}

// fetchSource is FetchSource with its requests under slots; with missingOK
// a ref that names nothing gives nil.
func fetchSource(ctx context.Context, sess *registry.Session, ref registry.Reference, slots limiter, missingOK bool) (*Fetched, error) {
	c, err := sess.Client(ctx, ref.Host)
	if err != nil {
		return nil, err
	}
	var r *ListRead
	if err := slots.do(ctx, func() (err error) {
		r, err = ReadList(ctx, c, ref)
		return err
	}); missingOK && errors.Is(err, registry.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	s := &Fetched{ListRead: r}
	if r.Single != nil {
		s.Entries = []manifestlist.Entry{*r.Single}
		return s, nil
	}
	if s.Entries, err = fetchChildren(ctx, Endpoint{Client: c, Repository: ref.Repository}, ref.String(), registrySources(ref), r.List, slots); err != nil {
		return nil, err
	}
	return s, nil
}

// FetchSources resolves refs concurrently through one session (one token
// per registry, with the pull scope of every ref), every request of all of
// them under one limit; the result keeps their order.
func FetchSources(ctx context.Context, sess *registry.Session, refs []registry.Reference) ([]*Fetched, error) {
	return fetchSources(ctx, sess, refs, false)
}

// FetchSourcesIfExist is FetchSources where a reference that names nothing
// gives nil instead of an error.
func FetchSourcesIfExist(ctx context.Context, sess *registry.Session, refs []registry.Reference) ([]*Fetched, error) {
	return fetchSources(ctx, sess, refs, true)
}

func fetchSources(ctx context.Context, sess *registry.Session, refs []registry.Reference, missingOK bool) ([]*Fetched, error) {
	for _, ref := range refs {
		sess.Want(ref.Host, ref.Repository, "pull")
	}
	out := make([]*Fetched, len(refs))
	slots := make(limiter, readJobs)
	g, ctx := errgroup.WithContext(ctx)
	for i, ref := range refs {
		g.Go(func() (err error) {
			out[i], err = fetchSource(ctx, sess, ref, slots, missingOK)
			return err
		})
	}
	return out, g.Wait()
}

// registrySources names the entries of a list in ref's repository by
// digest.
func registrySources(ref registry.Reference) func(digest.Digest) string {
	return func(d digest.Digest) string { return ref.WithDigest(d).String() }
}

// fetchChildren reads the manifest of every entry of list (which name
// names) from at, concurrently, each digest once however often the list
// repeats it; the entries keep the list's order and sourceOf names each.
func fetchChildren(ctx context.Context, at holder, name string, sourceOf func(digest.Digest) string, list *manifestlist.List, slots limiter) ([]manifestlist.Entry, error) {
	out := make([]manifestlist.Entry, len(list.Manifests))
	var reads flights[digest.Digest, []byte]
	g, ctx := errgroup.WithContext(ctx)
	for i, d := range list.Manifests {
		g.Go(func() error {
			raw, err := reads.do(ctx, d.Digest, func() (raw []byte, err error) {
				err = slots.do(ctx, func() (err error) {
					raw, err = at.manifestByDigest(ctx, d.Digest)
					return err
				})
				return raw, err
			})
			if err != nil {
				return fmt.Errorf("entry %s of %s: %w", d.Digest, name, err)
			}
			out[i] = manifestlist.Entry{Source: sourceOf(d.Digest), Descriptor: d, Raw: raw}
			return nil
		})
	}
	return out, g.Wait()
}

// imageEntry makes a list entry of a single image (raw, of media type mt,
// which name names), its platform read from the image config in at, as
// docker manifest create does.
func imageEntry(ctx context.Context, at holder, name string, raw []byte, mt string) (manifestlist.Entry, error) {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return manifestlist.Entry{}, fmt.Errorf("%s: parse manifest: %w", name, err)
	}
	d := imgspecv1.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw)), ArtifactType: m.ArtifactType}
	var config *imgspecv1.Platform
	if m.Config.MediaType == "application/vnd.docker.container.image.v1+json" || m.Config.MediaType == imgspecv1.MediaTypeImageConfig {
		cfg, err := at.readBlob(ctx, m.Config.Digest, 4<<20)
		if err != nil {
			return manifestlist.Entry{}, fmt.Errorf("config of %s: %w", name, err)
		}
		var p imgspecv1.Platform
		if err := json.Unmarshal(cfg, &p); err != nil {
			return manifestlist.Entry{}, fmt.Errorf("config of %s: %w", name, err)
		}
		if p.OS != "" || p.Architecture != "" {
			d.Platform = &p
			c := p
			config = &c
		}
	}
	return manifestlist.Entry{Source: name, Descriptor: d, Raw: raw, Config: config}, nil
}
