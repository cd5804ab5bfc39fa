package plugin

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/command"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// pushPlan is what push --dry-run prints: every write push would make.
type pushPlan struct {
	Target    string        `json:"target"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// TagHolds is set when the target tag already points at this digest.
	TagHolds bool       `json:"tagHolds"`
	Steps    []pushStep `json:"steps"`
	// Requests and Bytes estimate the whole push: requests at most, bytes
	// uploaded at most (blobs the destination already has are not sent).
	Requests int   `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// pushStep is one entry's transfer, or the put of the list or of a tag.
type pushStep struct {
	// Action: "in place" (the entry lives in the target repository),
	// "present" (already there), "mount" (blobs mounted within the
	// registry), "copy" (blobs streamed from another registry), "put" (the
	// list, by tag) or "tag" (an extra tag).
	Action   string        `json:"action"`
	Platform string        `json:"platform,omitempty"`
	Digest   digest.Digest `json:"digest"`
	From     string        `json:"from,omitempty"`
	To       string        `json:"to"`
	Blobs    int           `json:"blobs,omitempty"`
	Requests int           `json:"requests"`
	Bytes    int64         `json:"bytes"`
}

// planPush finds out, with reads only (a HEAD per entry from another
// repository, and one for the tag), what pushList would write.
func planPush(ctx context.Context, sess *registry.Session, target registry.Reference, entries []manifestlist.Entry, raw []byte, mediaType string, tags []string) (*pushPlan, error) {
	sess.Want(target.Host, target.Repository, "pull")
	for _, e := range entries {
		if src, err := registry.ParseReference(e.Source); err == nil && src.Name() != target.Name() {
			sess.Want(src.Host, src.Repository, "pull")
		}
	}
	c, err := sess.Client(ctx, target.Host)
	if err != nil {
		return nil, err
	}
	plan := &pushPlan{Target: target.String(), Digest: digest.FromBytes(raw), MediaType: mediaType}
	steps := make([]pushStep, len(entries))
	// An entry repeated is looked for, and pushed, once: its repeats cost
	// nothing.
	first := map[string]int{}
	var distinct []int
	for i, e := range entries {
		key := e.Source + " " + e.Descriptor.Digest.String()
		if _, ok := first[key]; !ok {
			first[key] = i
			distinct = append(distinct, i)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copy.DefaultJobs)
	for _, i := range distinct {
		g.Go(func() error { return planStep(gctx, c, target, entries[i], &steps[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, e := range entries {
		if j := first[e.Source+" "+e.Descriptor.Digest.String()]; j != i {
			steps[i] = steps[j]
			steps[i].Platform = entryPlatform(e)
			steps[i].Requests, steps[i].Bytes = 0, 0
		}
	}
	if desc, err := c.HeadManifest(ctx, target.Repository, target.Tag); err == nil {
		plan.TagHolds = desc.Digest == plan.Digest
	} else if !errors.Is(err, registry.ErrNotFound) {
		return nil, err
	}
	steps = append(steps, pushStep{Action: "put", Digest: plan.Digest, To: target.String(), Requests: 1, Bytes: int64(len(raw))})
	for _, t := range tags {
		steps = append(steps, pushStep{Action: "tag", Digest: plan.Digest, To: target.Name() + ":" + t, Requests: 1, Bytes: int64(len(raw))})
	}
	foreign := 0
	for i, s := range steps {
		plan.Requests += s.Requests
		plan.Bytes += s.Bytes
		if i < len(entries) && first[entries[i].Source+" "+entries[i].Descriptor.Digest.String()] != i {
			continue
		}
		if s.Action == "present" || s.Action == "mount" || s.Action == "copy" {
			foreign++
		}
	}
	if foreign > 1 {
		plan.Requests++ // pushList's probe of the target repository
	}
	plan.Steps = steps
	return plan, nil
}

func dryRunPush(ctx context.Context, dockerCLI command.Cli, sess *registry.Session, target registry.Reference, entries []manifestlist.Entry, raw []byte, mediaType string, tags []string, format string) error {
	plan, err := planPush(ctx, sess, target, entries, raw, mediaType, tags)
	if err != nil {
		return fmt.Errorf("push --dry-run %s: %w", target, err)
	}
	return writeFormatted(dockerCLI.Out(), format, plan, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "Push %s (dry run: nothing written)\n", termText(plan.Target))
		fmt.Fprintln(w, "ACTION\tPLATFORM\tDIGEST\tFROM\tTO\tREQUESTS\tBYTES")
		for _, s := range plan.Steps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Action, orDash(termText(s.Platform)), termText(s.Digest.String()),
				orDash(termText(s.From)), termText(s.To), s.Requests, s.Bytes)
		}
		if plan.TagHolds {
			fmt.Fprintf(w, "%s already holds %s\n", termText(plan.Target), plan.Digest)
		}
		fmt.Fprintf(w, "Total: at most %d requests, %d bytes uploaded; list %s (%s)\n", plan.Requests, plan.Bytes, plan.Digest, termText(plan.MediaType))
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// planStep finds out, with at most one HEAD, what pushing entry e to target
// takes.
func planStep(ctx context.Context, c *registry.Client, target registry.Reference, e manifestlist.Entry, step *pushStep) error {
	src, err := registry.ParseReference(e.Source)
	if err != nil {
		return fmt.Errorf("entry %s: %w", e.Descriptor.Digest, err)
	}
	st := pushStep{Digest: e.Descriptor.Digest, From: src.Name(), To: target.Name(), Platform: entryPlatform(e)}
	if src.Name() == target.Name() {
		st.Action = "in place"
		*step = st
		return nil
	}
	st.Requests = 1 // the HEAD push makes too
	if _, err := c.HeadManifest(ctx, target.Repository, e.Descriptor.Digest.String()); err == nil {
		st.Action = "present"
		*step = st
		return nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	var blobs []imgspecv1.Descriptor
	if p, err := manifestlist.Parse(e.Raw, e.Descriptor.MediaType); err == nil && p.Kind == manifestlist.KindImage {
		blobs = p.Blobs
	}
	st.Blobs = len(blobs)
	if src.Host == target.Host {
		st.Action = "mount"
		st.Requests += len(blobs) + 1 // a mount per blob, the manifest put
	} else {
		st.Action = "copy"
		for _, b := range blobs {
			st.Bytes += b.Size
		}
		// Per blob: a HEAD, the source GET, the upload POST and PUT.
		st.Requests += 4*len(blobs) + 1
		st.Bytes += int64(len(e.Raw))
	}
	*step = st
	return nil
}

// entryPlatform is what a plan says an entry is: its platform, or
// "attestation".
func entryPlatform(e manifestlist.Entry) string {
	if manifestlist.IsAttestation(e.Descriptor) {
		return "attestation"
	}
	return manifestlist.FormatPlatform(e.Descriptor.Platform)
}
