package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/command"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// templatedSource is one platform's image named by --template.
type templatedSource struct {
	ref      registry.Reference
	platform imgspecv1.Platform
}

func templateSources(opts createOptions) ([]templatedSource, error) {
	if (opts.template == "") != !opts.platforms.given() {
		return nil, errors.New("--template and --platform go together")
	}
	if opts.template == "" {
		if opts.ignoreMissing {
			return nil, errors.New("--ignore-missing goes with --template")
		}
		return nil, nil
	}
	platforms, err := opts.platforms.platforms()
	if err != nil {
		return nil, err
	}
	if err := manifestlist.CheckTemplate(opts.template, platforms); err != nil {
		return nil, err
	}
	out := make([]templatedSource, 0, len(platforms))
	for _, p := range platforms {
		r, err := registry.ParseReference(manifestlist.ExpandTemplate(opts.template, p))
		if err != nil {
			return nil, fmt.Errorf("--template %q for %s: %w", opts.template, manifestlist.FormatPlatform(&p), err)
		}
		out = append(out, templatedSource{ref: r, platform: p})
	}
	return out, nil
}

// fetchTemplated fetches the templated images; each entry gets the platform
// it was named for, as manifest-tool does.
func fetchTemplated(ctx context.Context, dockerCLI command.Cli, sess *registry.Session, templated []templatedSource, ignoreMissing bool) ([]*fetched, error) {
	refs := make([]registry.Reference, len(templated))
	for i, t := range templated {
		refs[i] = t.ref
	}
	read, err := copy.FetchSourcesIfExist(ctx, sess, refs)
	if err != nil {
		return nil, fmt.Errorf("--template: %w", err)
	}
	var out []*fetched
	for i, f := range read {
		t := templated[i]
		switch {
		case f == nil && ignoreMissing:
			fmt.Fprintf(dockerCLI.Err(), "WARNING: skipping %s: %s does not exist\n", manifestlist.FormatPlatform(&t.platform), t.ref)
			continue
		case f == nil:
			return nil, fmt.Errorf("--template for %s: %s: %w", manifestlist.FormatPlatform(&t.platform), t.ref, registry.ErrNotFound)
		case f.Single == nil:
			return nil, fmt.Errorf("%s for %s is a list; --template names single-platform images", t.ref, manifestlist.FormatPlatform(&t.platform))
		}
		p := t.platform
		f.Entries[0].Descriptor.Platform = &p
		out = append(out, wrapSource(f))
	}
	return out, nil
}
