package plugin

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli/command"
)

// runCopyAllTags is copy --all-tags: every tag of a repository, as one
// plan (copy.PlanMirror). A tag whose source fails fails the command once
// the others are written.
func runCopyAllTags(ctx context.Context, dockerCLI command.Cli, opts copyOptions) error {
	if len(opts.tags) > 0 {
		return fmt.Errorf("-t %s does not go with --all-tags: every tag is copied under its own name", opts.tags[0])
	}
	src, err := copy.ParseLocation(opts.source)
	if err != nil {
		return err
	}
	dst, err := copy.ParseLocation(opts.destination)
	if err != nil {
		return err
	}
	for _, loc := range []struct {
		what string
		copy.Location
	}{{"SOURCE", src}, {"DESTINATION", dst}} {
		_, path, _ := strings.Cut(strings.TrimSuffix(loc.String(), ":"), ":")
		if loc.Tagged || (loc.Transport() == "oci" && strings.Contains(path, ":")) {
			return fmt.Errorf("--all-tags copies every tag under its own name: give %s as REGISTRY/REPOSITORY or oci:DIR, without a tag, not %s", loc.what, loc.Location)
		}
	}
	filter := copy.TagFilter{}
	if filter.Include, err = compileTagRegexps("--include", opts.include); err != nil {
		return err
	}
	if filter.Exclude, err = compileTagRegexps("--exclude", opts.exclude); err != nil {
		return err
	}
	if opts.jobs < 1 {
		return fmt.Errorf("invalid --jobs %d: must be at least 1", opts.jobs)
	}
	platforms, err := opts.platforms.platforms()
	if err != nil {
		return err
	}
	srcSess, dstSess, err := opts.sessions(dockerCLI)
	if err != nil {
		return err
	}
	srcSide, dstSide, err := copy.ResolveSides(ctx, srcSess, dstSess, src, dst)
	if err != nil {
		return err
	}
	mediaType, err := manifestlist.ParseListType(opts.mediaType)
	if err != nil {
		return err
	}
	copyOpts := copy.Options{Platforms: platforms, Referrers: opts.referrers, MediaType: mediaType, Jobs: opts.jobs, DryRun: opts.dryRun}
	if src.Registry == nil || dst.Registry == nil {
		copyOpts.SystemContext = systemContext()
	}
	stats, stopProgress := startProgress(dockerCLI, opts.quiet || opts.dryRun, "Copying tags")
	plan, err := copy.PlanMirror(ctx, srcSide, dstSide, filter, copyOpts, stats)
	if err == nil {
		defer plan.Close()
		if !opts.dryRun {
			err = copy.Execute(ctx, plan)
		}
	}
	stopProgress()
	printWarnings(dockerCLI.Err(), plan)
	what := fmt.Sprintf("%s to %s", repositoryName(src), repositoryName(dst))
	if err != nil {
		return fmt.Errorf("copy --all-tags %s: %w", what, err)
	}
	switch {
	case opts.dryRun:
		err = writePlan(dockerCLI.Out(), opts.format, plan)
	case opts.format != "table":
		err = writeFormatted(dockerCLI.Out(), opts.format, plan.Tags, nil)
	case !opts.quiet:
		counts, _ := stats.Snapshot()
		runSummary(dockerCLI.Err(), "Copied the tags of "+termText(what), plan, counts)
	}
	if err != nil {
		return err
	}
	if failed := plan.Failed(); len(failed) > 0 {
		var names []string
		for _, t := range failed {
			names = append(names, fmt.Sprintf("%s (%s)", t.Tag, t.Error))
		}
		return fmt.Errorf("copy --all-tags %s: %s failed: %s", what, plural(len(failed), "tag"), strings.Join(names, "; "))
	}
	return nil
}

// compileTagRegexps compiles the expressions of a tag filter flag, naming a
// bad one.
func compileTagRegexps(flag string, exprs []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, x := range exprs {
		re, err := regexp.Compile(x)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %v (a Go regular expression is expected)", flag, x, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// repositoryName is a location without the "latest" ParseLocation fills in.
func repositoryName(loc copy.Location) string {
	if loc.Registry != nil {
		return loc.Registry.Host + "/" + loc.Registry.Repository
	}
	return strings.TrimSuffix(loc.String(), ":")
}
