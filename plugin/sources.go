package plugin

import (
	"context"
	"fmt"
	"io"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
)

// fetched is one source resolved from a registry (copy.Fetched): a single
// image, or a list with the raw bytes of every entry, under the names
// create and push use.
type fetched struct {
	*copy.Fetched
	// single is the entry a single image makes; nil for a list.
	single  *manifestlist.Entry
	entries []manifestlist.Entry
}

func wrapSource(s *copy.Fetched) *fetched {
	return &fetched{Fetched: s, single: s.Single, entries: s.Entries}
}

// fetchAll resolves sources concurrently, one registry session for all of
// them. Results keep the argument order.
func fetchAll(ctx context.Context, sess *registry.Session, refs []registry.Reference) ([]*fetched, error) {
	srcs, err := copy.FetchSources(ctx, sess, refs)
	if err != nil {
		return nil, err
	}
	out := make([]*fetched, len(srcs))
	for i, s := range srcs {
		out[i] = wrapSource(s)
	}
	return out, nil
}

// warnContradictions prints a WARNING line on w for each entry whose
// platform contradicts the platform its image config declares, where the
// command read that config (manifestlist.Entry.Config).
func warnContradictions(w io.Writer, list string, entries []manifestlist.Entry) {
	for _, e := range entries {
		if c := e.Contradiction(); c != "" {
			fmt.Fprintf(w, "WARNING: %s: entry %s: %s\n", termText(list), termText(e.Label()), termText(c))
		}
	}
}

// registryArg reads an argument that names a registry manifest alone
// (merge DESTINATION and --target, create's SOURCEs, tags, delete) by the
// resolver's rules: REF or docker://REF; a layout or draft is refused by
// name; what names the argument ("merge DESTINATION").
func registryArg(what, arg string) (registry.Reference, error) {
	in, err := copy.Resolve(arg, nil)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("invalid %s: %w", what, err)
	}
	if err := in.RegistryOnly(what); err != nil {
		return registry.Reference{}, err
	}
	return *in.Location.Registry, nil
}
