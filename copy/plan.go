package copy

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/opencontainers/go-digest"
)

// Plan is what a copy does, worked out before the first write (docker/cli's
// pushRequest idea): every manifest to put and every blob to mount or copy,
// with request and byte estimates. A dry run prints it and stops.
type Plan struct {
	Source       string        `json:"source"`
	Destination  string        `json:"destination"`
	SourceDigest digest.Digest `json:"sourceDigest"`
	// Digest is what the destination gets: SourceDigest unless --platform
	// or --media-type rewrote the top manifest.
	Digest digest.Digest `json:"digest"`
	// Tag is the tag written, "" when the manifest is written by digest
	// only (or the destination is local: its location names the tag).
	Tag string `json:"tag,omitempty"`
	// DefaultTag says Tag is "latest" because the destination named none.
	DefaultTag bool `json:"defaultTag,omitempty"`
	// Unchanged: the destination already holds Digest under Tag.
	Unchanged bool `json:"unchanged,omitempty"`
	// Kind of the top manifest: "list" or "image"; Entries counts a list's.
	Kind      string `json:"kind,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Entries   int    `json:"entries,omitempty"`
	// Converted is the --media-type asked for, if any.
	Converted string         `json:"converted,omitempty"`
	Manifests []PlanManifest `json:"manifests"`
	Blobs     []PlanBlob     `json:"blobs"`
	// Requests estimates the registry requests the copy makes after the
	// plan; Bytes the blob bytes it moves.
	Requests int   `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// PlanManifest is one manifest of the plan.
type PlanManifest struct {
	Digest    digest.Digest `json:"digest"`
	From      digest.Digest `json:"from,omitempty"` // the source digest, when rewritten
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Role      string        `json:"role"` // "list", "image", "attestation"
	Platform  string        `json:"platform,omitempty"`
	Action    string        `json:"action"` // "put", "present"
}

// PlanBlob is one blob of the plan.
type PlanBlob struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	// Action is "mount" (same registry), "copy", "present" (the
	// destination holds it), "check" (a real copy finds out: a mount
	// from the repository itself, or a HEAD), or "fetch" (a foreign layer,
	// from its URLs, for a docker-archive).
	Action string `json:"action"`
}

// plan builds the Plan from the graph; a dry run also asks a registry
// destination which blobs it holds (reads only).
func (e *engine) plan(ctx context.Context, root *node, src, dst Side, regDst *Endpoint) (*Plan, error) {
	p := &Plan{Source: e.src.String(), Destination: dst.String(), SourceDigest: root.Digest, Digest: root.Digest, Kind: root.parsed.Kind.String(), MediaType: root.MediaType, Converted: e.opts.MediaType}
	if root.from != "" {
		p.SourceDigest = root.from
	}
	if regDst != nil {
		p.Tag = dst.Ref
	}
	if root.parsed.Kind == manifestlist.KindList {
		p.Entries = len(root.parsed.List.Manifests)
	}
	manifests, blobs := needed(e.fetchForeign, root)
	for _, n := range nodesOf(root) {
		pm := PlanManifest{Digest: n.Digest, MediaType: n.MediaType, Size: int64(len(n.Raw)), Role: n.parsed.Kind.String(), Action: "put"}
		if n.converted {
			pm.From = n.from
		}
		if n.desc != nil {
			if manifestlist.IsAttestation(*n.desc) {
				pm.Role = "attestation"
			} else if n.desc.Platform != nil {
				pm.Platform = manifestlist.FormatPlatform(n.desc.Platform)
			}
		}
		if n.present {
			pm.Action = "present"
		}
		p.Manifests = append(p.Manifests, pm)
	}
	_ = manifests
	sameHost := false
	if rs, ok := e.src.(*registrySource); ok && regDst != nil {
		sameHost = rs.ep.Client.Host == regDst.Client.Host
	}
	for _, b := range blobs {
		pb := PlanBlob{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Action: "copy"}
		switch {
		case b.urls != nil:
			pb.Action = "fetch"
		case sameHost:
			pb.Action = "mount"
		case regDst != nil && regDst.New:
			pb.Action = "check"
		}
		p.Blobs = append(p.Blobs, pb)
	}
	if e.opts.DryRun && regDst != nil && !sameHost {
		err := each(ctx, e.smallLimit, indexes(len(p.Blobs)), func(ctx context.Context, i int) error {
			ok, err := regDst.Client.BlobExists(ctx, regDst.Repository, p.Blobs[i].Digest)
			if err != nil {
				return err
			}
			if ok {
				p.Blobs[i].Action = "present"
			} else {
				p.Blobs[i].Action = "copy"
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	toRegistry := regDst != nil
	_, fromRegistry := e.src.(*registrySource)
	for _, m := range p.Manifests {
		if m.Action == "put" && toRegistry {
			p.Requests++
		}
	}
	for _, b := range p.Blobs {
		switch b.Action {
		case "mount", "present":
			if toRegistry {
				p.Requests++
			}
		case "fetch":
			p.Bytes += b.Size
			p.Requests++ // a GET of its URL, not of a registry
		case "copy", "check":
			p.Bytes += b.Size
			if fromRegistry {
				p.Requests++
			}
			if toRegistry {
				p.Requests += 2 // open the upload (or the mount that opens it), put it
			}
		}
	}
	return p, nil
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// WriteTable prints the plan for a terminal: one line per manifest and
// blob, and a summary.
func (p *Plan) WriteTable(w io.Writer) error {
	if p.Unchanged {
		_, err := fmt.Fprintf(w, "%s already holds %s%s: nothing to copy\n", p.Destination, p.Digest, tagText(p.Tag))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKIND\tDIGEST\tPLATFORM\tSIZE")
	for _, m := range p.Manifests {
		platform := m.Platform
		if platform == "" {
			platform = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Action, m.Role, m.Digest, platform, m.Size)
	}
	for _, b := range p.Blobs {
		fmt.Fprintf(tw, "%s\tblob\t%s\t-\t%d\n", b.Action, b.Digest, b.Size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, p.Summary())
	return err
}

// Summary is the plan in one line.
func (p *Plan) Summary() string {
	count := map[string]int{}
	for _, m := range p.Manifests {
		count["m"+m.Action]++
	}
	for _, b := range p.Blobs {
		count["b"+b.Action]++
	}
	var parts []string
	parts = append(parts, plural(count["mput"], "manifest")+" to put")
	if n := count["mpresent"]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", n))
	}
	blobs := []string{}
	for _, a := range []string{"mount", "copy", "check", "fetch", "present"} {
		if n := count["b"+a]; n > 0 {
			label := map[string]string{"mount": "to mount", "copy": "to copy", "check": "to copy unless already there", "fetch": "foreign, to fetch from their URLs", "present": "already there"}[a]
			blobs = append(blobs, fmt.Sprintf("%d %s", n, label))
		}
	}
	if len(blobs) > 0 {
		parts = append(parts, plural(len(p.Blobs), "blob")+" ("+strings.Join(blobs, ", ")+")")
	}
	return fmt.Sprintf("Plan: %s to %s%s: %s; about %d requests and %d bytes", p.Digest, p.Destination, tagText(p.Tag), strings.Join(parts, ", "), p.Requests, p.Bytes)
}

func tagText(tag string) string {
	if tag == "" {
		return ""
	}
	return " as :" + tag
}

// plural is "1 manifest", "2 manifests".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
