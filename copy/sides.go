package copy

import (
	"context"
	"slices"

	"github.com/docker-mlist/docker-mlist/registry"
)

// ResolveSides opens the registry sides of a copy in their sessions (one
// each, or one shared one), declaring what each side reads or writes, and
// names what each side reads or writes; tags are the destination's extra
// tags (ParseTags), which may reach other repositories.
func ResolveSides(ctx context.Context, srcSess, dstSess *registry.Session, src, dst Location, tags ...registry.Reference) (Side, Side, error) {
	var srcSide, dstSide Side
	if src.Registry == nil {
		srcSide.Local = &src
	}
	if dst.Registry == nil {
		dstSide.Local = &dst
	}
	if src.Registry == nil && dst.Registry == nil {
		return srcSide, dstSide, nil
	}
	if s := src.Registry; s != nil {
		srcSess.Want(s.Host, s.Repository, "pull")
	}
	if d := dst.Registry; d != nil {
		dstSess.Want(d.Host, d.Repository, "pull", "push")
		if s := src.Registry; s != nil && srcSess == dstSess && s.Host == d.Host {
			dstSess.Want(s.Host, s.Repository, "pull") // one token that also allows the mount
		}
		WantTags(dstSess, *d, tags, false)
	}
	if s := src.Registry; s != nil {
		c, err := srcSess.Client(ctx, s.Host)
		if err != nil {
			return srcSide, dstSide, err
		}
		srcSide = Side{Endpoint: &Endpoint{Client: c, Repository: s.Repository}, Ref: s.Ref()}
	}
	if d := dst.Registry; d != nil {
		c, err := dstSess.Client(ctx, d.Host)
		if err != nil {
			return srcSide, dstSide, err
		}
		dstSide = Side{Endpoint: &Endpoint{Client: c, Repository: d.Repository}, Ref: d.Tag}
		if d.Digest != "" && d.Tag == "" {
			dstSide.Digest = d.Digest
		}
	}
	return srcSide, dstSide, nil
}

// clients are the registry clients of the sides, each once: a plan counts
// the requests they made.
func clients(sides ...Side) []*registry.Client {
	var out []*registry.Client
	for _, s := range sides {
		if s.Endpoint != nil && !slices.Contains(out, s.Endpoint.Client) {
			out = append(out, s.Endpoint.Client)
		}
	}
	return out
}

// requestsOf is how many requests clients have sent.
func requestsOf(clients []*registry.Client) int {
	n := int64(0)
	for _, c := range clients {
		n += c.Requests()
	}
	return int(n)
}
