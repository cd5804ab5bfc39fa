package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// createPushOptions are create's --push and the push flags that go with
// it.
type createPushOptions struct {
	push   bool
	tags   []string
	dryRun bool
	format string
	quiet  bool
}

func (o *createPushOptions) install(flags *pflag.FlagSet) {
	flags.BoolVar(&o.push, "push", false, "Push the list to LIST at once, keeping no draft")
	addTagFlag(flags, &o.tags)
	addDryRunFlag(flags, &o.dryRun, "With --push: ")
	addFormatFlag(flags, &o.format, "table", "the --dry-run plan", "")
	flags.BoolVarP(&o.quiet, "quiet", "q", false, "With --push: print only the list digest")
}

// check refuses the push flags without --push, and --push with what only
// edits a draft.
func (o *createPushOptions) check(cmd *cobra.Command, opts createOptions) error {
	if !o.push {
		for _, f := range []string{"tag", "dry-run", "format", "quiet"} {
			if cmd.Flags().Changed(f) {
				return fmt.Errorf("--%s goes with --push: create without it writes a draft", f)
			}
		}
		return nil
	}
	switch {
	case opts.amend:
		return errors.New("--push does not go with --amend: it keeps no draft to amend")
	case opts.from != "":
		return errors.New("--push does not go with --from: copy a list with docker mlist copy")
	}
	return formatWithDryRun(cmd, o.dryRun)
}

// runCreatePush builds the list create would make, in memory, and pushes
// it with its extra tags in one plan.
func runCreatePush(ctx context.Context, dockerCLI command.Cli, opts createOptions) error {
	in, err := parseCreate(opts)
	if err != nil {
		return err
	}
	target, err := registry.ParseReference(in.name)
	if err != nil {
		return err
	}
	tags, err := copy.ParseTags(target, opts.push.tags)
	if err != nil {
		return err
	}
	sess := newSession(dockerCLI, opts.registry)
	sources, err := in.fetch(ctx, dockerCLI, sess, opts.ignoreMissing)
	if err != nil {
		return err
	}
	draft := &manifestlist.Draft{Name: in.name}
	result, reason, err := in.add(draft, sources)
	if err != nil {
		return err
	}
	raw, mediaType, err := draft.Build()
	if err != nil {
		return fmt.Errorf("create --push %s: %w", in.name, err)
	}
	warnContradictions(dockerCLI.Err(), in.name, draft.Entries)
	if opts.mediaType == "" && !opts.push.quiet {
		fmt.Fprintf(dockerCLI.Err(), "note: %s because %s\n", listKind(result.MediaType), reason)
	}
	po := pushOptions{quiet: opts.push.quiet, dryRun: opts.push.dryRun, format: opts.push.format, registry: opts.registry}
	_, err = push(ctx, dockerCLI, po, copy.PushRequest{Session: sess, Target: target, Raw: raw, MediaType: mediaType, Entries: draft.Entries, Tags: tags})
	return err
}
