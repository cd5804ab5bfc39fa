package copy

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// Readers are how Open reaches an input: registries through Session
// (which Open asks for the pull scope it needs), local layouts and archives
// through SystemContext.
type Readers struct {
	Session       *registry.Session
	SystemContext *types.SystemContext
}

// Opened is an input with its top manifest read: a draft's list as push
// would write it, a registry's or a layout's manifest as it is stored.
type Opened struct {
	Input
	// Raw are the exact bytes, Digest their digest, MediaType what they
	// are (the manifest's own mediaType over what was served).
	Raw       []byte
	Digest    digest.Digest
	MediaType string
	// List is the list read; nil for a single image.
	List *manifestlist.List
	// Missing is set, instead of an error, for a registry tag that holds
	// nothing when Open was asked to allow that.
	Missing bool
	at      holder
	closeFn func()
	single  *manifestlist.Entry
}

// Open reads in's top manifest: one request for a registry, none for a
// draft. missingOK makes a registry tag that holds nothing an Opened with
// Missing set (a diff of a draft not pushed yet).
func Open(ctx context.Context, in Input, r Readers, missingOK bool) (*Opened, error) {
	o := &Opened{Input: in, closeFn: func() {}}
	var served string
	switch {
	case in.Draft != nil:
		// The bytes push writes: an unchanged --from draft's origin, a
		// docker manifest draft's as docker writes them.
		raw, list, err := in.Draft.Serialize()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Draft.Name, err)
		}
		o.Raw, o.List, o.MediaType = raw, list, list.MediaType
		o.Digest = digest.FromBytes(raw)
		return o, nil
	case in.Location.Registry != nil:
		ref := *in.Location.Registry
		r.Session.Want(ref.Host, ref.Repository, "pull")
		c, err := r.Session.Client(ctx, ref.Host)
		if err != nil {
			return nil, err
		}
		raw, desc, err := c.GetManifest(ctx, ref.Repository, ref.Ref())
		if missingOK && errors.Is(err, registry.ErrNotFound) {
			o.Missing = true
			return o, nil
		}
		if err != nil {
			return nil, err
		}
		o.at = Endpoint{Client: c, Repository: ref.Repository}
		o.Raw, o.Digest, served = raw, desc.Digest, desc.MediaType
	default:
		// Errors name the input as registry errors name their reference;
		// an archive's name themselves already.
		named := func(err error) error {
			if in.Location.Transport() == "oci" {
				return fmt.Errorf("%s: %w", in, err)
			}
			return err
		}
		src, err := openSource(ctx, in.Location, r.SystemContext)
		if err != nil {
			return nil, named(err)
		}
		o.closeFn = src.close
		d, err := src.resolve(ctx)
		if err == nil {
			o.Raw, served, err = src.manifest(ctx, d)
		}
		if err != nil {
			src.close()
			return nil, named(err)
		}
		o.at, o.Digest = sourceHolder{src}, d
	}
	o.MediaType = manifestlist.MediaTypeOf(o.Raw, served)
	if manifestlist.IsList(o.MediaType) {
		var err error
		if o.List, err = manifestlist.ParseList(o.Raw, o.MediaType); err != nil {
			o.Close()
			return nil, fmt.Errorf("%s: %w", in, err)
		}
	}
	return o, nil
}

// Close releases a local layout or archive.
func (o *Opened) Close() { o.closeFn() }

// Single is a single image as a list entry, its platform read from its
// config (one request more for a registry); nil for a list.
func (o *Opened) Single(ctx context.Context) (*manifestlist.Entry, error) {
	if o.List != nil || o.Missing {
		return nil, nil
	}
	if o.single == nil {
		r, err := readList(ctx, o.at, o.String(), o.Raw, o.MediaType, o.Digest)
		if err != nil {
			return nil, err
		}
		o.single = r.Single
	}
	return o.single, nil
}

// AsList is what a list operation reads: the list, or the list of one a
// single image makes.
func (o *Opened) AsList(ctx context.Context) (*manifestlist.List, error) {
	if o.List != nil || o.Missing {
		return o.List, nil
	}
	r, err := readList(ctx, o.at, o.String(), o.Raw, o.MediaType, o.Digest)
	if err != nil {
		return nil, err
	}
	o.single = r.Single
	return r.List, nil
}

// Entries are the list's entries with their manifests (a draft's as it
// holds them; a registry's or layout's read concurrently, each digest
// once), or the single image's one entry.
func (o *Opened) Entries(ctx context.Context) ([]manifestlist.Entry, error) {
	switch {
	case o.Missing:
		return nil, nil
	case o.Draft != nil:
		return o.Draft.Entries, nil
	case o.List == nil:
		e, err := o.Single(ctx)
		if err != nil {
			return nil, err
		}
		return []manifestlist.Entry{*e}, nil
	}
	sourceOf := func(d digest.Digest) string { return o.Location.String() + "@" + d.String() }
	if ref := o.Location.Registry; ref != nil {
		sourceOf = registrySources(*ref)
	}
	return fetchChildren(ctx, o.at, o.String(), sourceOf, o.List, make(limiter, readJobs))
}

// Verify checks the input as Verify checks a registry list: a draft against
// the repositories its entries' sources name (where push reads them), a
// registry list against its repository, a layout's against the layout.
func (o *Opened) Verify(ctx context.Context, r Readers, opts VerifyOptions) (*Report, error) {
	var rep *Report
	var err error
	if o.Draft != nil {
		rep, err = verifyDraft(ctx, o.Draft, r.Session, opts)
	} else {
		rep, err = verifyList(ctx, o.at, o.String(), o.Raw, o.MediaType, o.Digest, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", o, err)
	}
	rep.Source = o.Source()
	return rep, nil
}
