package plugin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The output of every command that writes through a plan (push, merge,
// copy): the plan a dry run prints, as a table or JSON, and the summary a
// run prints, in the same words (see words.go). Every text that comes
// from a registry or a file (references, digests, platforms, media types)
// goes through termText.

// writePlan prints a dry run's plan: JSON (or a template) as it is, else a
// table.
func writePlan(w io.Writer, format string, p *copy.Plan) error {
	return writeFormatted(w, format, p, func(tw *tabwriter.Writer) { planTable(tw, p) })
}

func planTable(tw *tabwriter.Writer, p *copy.Plan) {
	switch p.Command {
	case "merge":
		fmt.Fprintf(tw, "Merge %s into %s (dry run: nothing written)\n", termText(p.Source), termText(p.Merge.Target))
		mergeChanges(tw, p.Merge)
	case "push":
		fmt.Fprintf(tw, "Push %s (dry run: nothing written)\n", termText(firstTag(p)))
	case "mirror":
		fmt.Fprintf(tw, "Copy every tag of %s to %s (dry run: nothing written)\n", termText(p.Source), termText(p.Destination))
	default:
		fmt.Fprintf(tw, "Copy %s to %s (dry run: nothing written)\n", termText(p.Source), termText(p.Destination))
	}
	if len(p.Manifests)+len(p.Blobs) > 0 && !p.Unchanged {
		fmt.Fprintln(tw, "ACTION\tKIND\tDIGEST\tPLATFORM\tSIZE\tFROM")
		for _, m := range p.Manifests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", actionInto(m.Action, m.Repository), termText(m.Role), termText(m.Digest.String()),
				orDash(termText(m.Platform)), humanSize(m.Size), orDash(termText(m.Source)))
		}
		for _, b := range p.Blobs {
			fmt.Fprintf(tw, "%s\tblob\t%s\t-\t%s\t-\n", actionInto(b.Action, b.Repository), termText(b.Digest.String()), humanSize(b.Size))
		}
	}
	tagLines(tw, p)
	fmt.Fprintln(tw, planSummary(p))
}

// actionInto is a plan's action, naming the other repository an extra tag
// takes it to.
func actionInto(action, repository string) string {
	if repository == "" {
		return action
	}
	return action + " into " + termText(repository)
}

// planSummary is a plan in one line.
func planSummary(p *copy.Plan) string {
	switch {
	case p.Unchanged && p.Command == "mirror":
		return fmt.Sprintf("Plan: nothing to write (%s holds every tag); %s", termText(p.Destination), requestWords(p))
	case p.Unchanged:
		return fmt.Sprintf("Plan: nothing to write (%s already holds %s); %s", termText(p.Destination), termText(p.Digest.String()), requestWords(p))
	}
	m := map[string]int{}
	for _, x := range p.Manifests {
		m[x.Action]++
	}
	b := map[string]int{}
	for _, x := range p.Blobs {
		b[x.Action]++
	}
	parts := []string{manifestWords(m["put"], m["present"]+m["in place"], "to write")}
	if len(p.Blobs) > 0 {
		parts = append(parts, blobWords(b["mount"], b["copy"]+b["fetch"], b["present"], p.Bytes, "to mount", "to copy"))
	}
	return fmt.Sprintf("Plan: %s; %s, %s", strings.Join(parts, "; "), requestWords(p), humanSize(p.Bytes))
}

// requestWords is the plan's request count, and why it is not exact when
// it is not (it may count more or fewer than the run makes).
func requestWords(p *copy.Plan) string {
	if p.RequestsLeftOut == "" {
		return plural(p.Requests, "request")
	}
	return "about " + plural(p.Requests, "request") + " (" + p.RequestsLeftOut + ")"
}

// runSummary says what a run did, in the plan's words, with the counts the
// run made (copy.Stats) and the tags it wrote or left; what names the run
// ("Copied A to B", already escaped).
func runSummary(w io.Writer, what string, p *copy.Plan, c copy.Counts) {
	line := what + ": " + manifestWords(c.Manifests, c.Present, "written")
	if c.Mounted+c.Uploaded+c.BlobsPresent > 0 {
		line += "; " + blobWords(c.Mounted, c.Uploaded, c.BlobsPresent, c.BytesUploaded, "mounted", "copied")
	}
	fmt.Fprintln(w, line)
	tagLines(w, p)
}

// tagLines names the plan's tag writes; a mirror's are counted first by
// what happens to them, and its unchanged tags are counted only.
func tagLines(w io.Writer, p *copy.Plan) {
	mirror := p.Command == "mirror"
	if mirror {
		n := map[string]int{}
		for _, t := range p.Tags {
			n[t.Action()]++
		}
		fmt.Fprintf(w, "Tags: %d new, %d moved, %d unchanged, %d failed\n", n["written"], n["moved"], n["unchanged"], n["failed"])
	}
	for _, t := range p.Tags {
		if !mirror || !t.Unchanged {
			fmt.Fprintln(w, tagLine(t))
		}
	}
}

// unchangedSummary says a run found every tag holding the result already:
// the same words for push, copy and merge, and each tag's line.
func unchangedSummary(w io.Writer, target string, p *copy.Plan) {
	fmt.Fprintf(w, "%s already holds %s: nothing written\n", termText(target), termText(p.Digest.String()))
	for _, t := range p.Tags {
		fmt.Fprintln(w, tagLine(t))
	}
}

func manifestWords(written, there int, verb string) string {
	s := plural(written, "manifest") + " " + verb
	if there > 0 {
		s += fmt.Sprintf(", %d already there", there)
	}
	return s
}

func blobWords(mounted, copied, there int, bytes int64, mountVerb, copyVerb string) string {
	var parts []string
	if mounted > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", mounted, mountVerb))
	}
	if copied > 0 || bytes > 0 {
		parts = append(parts, fmt.Sprintf("%d %s (%s)", copied, copyVerb, humanSize(bytes)))
	}
	if there > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", there))
	}
	return plural(mounted+copied+there, "blob") + ": " + strings.Join(parts, ", ")
}

// tagLine names a tag write in the words of words.go: "TAG: sha256:OLD… →
// sha256:NEW… (moved)", "TAG: → sha256:NEW… (written: a new tag)", or
// "TAG: sha256:NEW… (unchanged: nothing written)".
func tagLine(t copy.TagWrite) string {
	if t.Note != "" {
		t2 := t
		t2.Note = ""
		return tagLine(t2) + " (" + termText(t.Note) + ")"
	}
	tag := termText(t.Tag)
	switch t.Action() {
	case "failed":
		return fmt.Sprintf("%s: failed: %s", tag, termText(t.Error))
	case "unchanged":
		return fmt.Sprintf("%s: %s… (unchanged: nothing written)", tag, short(t.New))
	case "written":
		return fmt.Sprintf("%s: → %s… (written: a new tag)", tag, short(t.New))
	}
	return fmt.Sprintf("%s: %s… → %s… (moved)", tag, short(t.Old), short(t.New))
}

func short(d digest.Digest) string { return termText(manifestlist.ShortDigest(d)) }

func firstTag(p *copy.Plan) string {
	if len(p.Tags) > 0 {
		return p.Tags[0].Tag
	}
	return p.Destination
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mergeChanges prints what a merge does with each entry.
func mergeChanges(tw *tabwriter.Writer, m *copy.MergeDetail) {
	fmt.Fprintln(tw, "PLATFORM\tCHANGE\tDIGEST")
	for _, c := range m.Changes {
		p := termText(c.Platform)
		if c.OldPlatform != "" {
			p = termText(c.OldPlatform) + " → " + p
		}
		if c.Attestation {
			p = "attestation of " + termText(manifestlist.ShortDigest(c.Subject))
		}
		if p == "" {
			p = "(no platform)"
		}
		d := c.New
		switch c.Action {
		case "replaced":
			fmt.Fprintf(tw, "%s\t%s\t%s → %s\n", p, c.Action, termText(c.Old.String()), termText(c.New.String()))
			continue
		case "kept", "dropped":
			d = c.Old
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p, c.Action, termText(d.String()))
	}
	fmt.Fprintf(tw, "Result: %s (%s)\n", termText(m.Target), termText(m.MediaTypeReason))
}

// mergeSummary says how a merge changed the entries and what it wrote.
func mergeSummary(w io.Writer, p *copy.Plan) {
	m := p.Merge
	images := map[string]int{}
	attestations := map[string]int{}
	entries, atts := 0, 0
	for _, c := range m.Changes {
		if c.Attestation {
			attestations[c.Action]++
		} else {
			images[c.Action]++
		}
	}
	seen := map[digest.Digest]bool{}
	for _, c := range m.Changes {
		if c.Action == "dropped" || seen[c.New] {
			continue
		}
		seen[c.New] = true
		if c.Attestation {
			atts++
		} else {
			entries++
		}
	}
	fmt.Fprintf(w, "Merged %s into %s: %d added, %d replaced, %d kept, %d dropped\n", termText(p.Source), termText(m.Target),
		images["added"], images["replaced"], images["kept"], images["dropped"])
	if n := len(attestations); n > 0 {
		fmt.Fprintf(w, "Attestations follow their images: %d added, %d kept, %d dropped\n",
			attestations["added"], attestations["kept"], attestations["dropped"])
	}
	what := plural(entries, "image")
	if atts > 0 {
		what += " and " + plural(atts, "attestation")
	}
	fmt.Fprintf(w, "The result is %s %s (%s; %s)\n", listKind(p.MediaType), termText(p.Digest.String()), what, termText(m.MediaTypeReason))
}

// listKind names a list media type the way users know it.
func listKind(mediaType string) string {
	switch mediaType {
	case "application/vnd.docker.distribution.manifest.list.v2+json":
		return "Docker manifest list"
	case imgspecv1.MediaTypeImageIndex:
		return "OCI index"
	}
	return termText(mediaType)
}
