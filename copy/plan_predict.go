package copy

import (
	"context"
	"os"
	"path/filepath"

	"github.com/docker-mlist/docker-mlist/manifestlist"
)

// The plan's prediction: what each manifest and blob of a graph costs the
// run, so that a plan's Requests is the run's exact count.

// buildPlan lists the graph below the tops in p, the manifests the
// destination holds marked, and what each blob of the manifests it lacks
// costs; a dry run also asks a registry destination which of those blobs
// it holds (reads that are not counted). reads is what the plan's reads
// cost so far.
func (e *engine) buildPlan(ctx context.Context, p *Plan, tops []topNode, reads int) error {
	var roots []*node
	for _, t := range tops {
		roots = append(roots, t.n)
	}
	held := presentNodes(roots...)
	for _, n := range nodesOf(roots...) {
		pm := PlanManifest{Digest: n.Digest, MediaType: n.MediaType, Size: int64(len(n.Raw)), Role: n.parsed.Kind.String(), Action: actionPut}
		if n.converted {
			pm.From = n.from
		}
		if n.parsed.MediaType == "" && n.desc != nil && manifestlist.IsList(n.desc.MediaType) {
			pm.Role = "list" // an entry in place, not read
		}
		if n.desc != nil {
			pm.Size = max(pm.Size, n.desc.Size)
			if manifestlist.IsAttestation(*n.desc) {
				pm.Role = "attestation"
			} else if n.desc.Platform != nil {
				pm.Platform = manifestlist.FormatPlatform(n.desc.Platform)
			}
		}
		if n.eng != nil && n.eng != e {
			pm.Source = n.eng.src.String()
		}
		switch {
		case n.inPlace:
			pm.Action = actionInPlace
		case held[n]:
			pm.Action = actionPresent
		}
		p.Manifests = append(p.Manifests, pm)
	}
	_, blobs := needed(e.fetchForeign, roots...)
	var present []bool
	headed := false
	switch {
	case e.layoutBlobs != "":
		// Looking costs no request: a run's own plan looks too.
		present = e.layoutHolds(blobs)
	case e.opts.DryRun:
		var err error
		if present, err = e.blobsPresent(ctx, blobs, false); err != nil {
			return err
		}
	default:
		// A run's own plan makes the HEADs the run makes anyway, and
		// counts them; the run does not make them again.
		rd, ok := e.dst.(*registryDestination)
		if ok && !rd.ep.New {
			before := rd.ep.Client.Requests()
			var err error
			if present, err = e.blobsPresent(ctx, blobs, true); err != nil {
				return err
			}
			headed = true
			reads += int(rd.ep.Client.Requests() - before)
		}
	}
	writes := 0
	for i, b := range blobs {
		var known *bool
		if present != nil {
			known = &present[i]
		}
		action, requests := e.blobPlan(b, known, headed)
		writes += requests
		if action == actionCopy || action == actionFetch {
			p.Bytes += b.Size
		}
		p.Blobs = append(p.Blobs, PlanBlob{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Action: action})
	}
	p.Requests = reads + writes + e.manifestWrites(tops)
	if p.Manifests == nil {
		p.Manifests = []PlanManifest{}
	}
	if p.Blobs == nil {
		p.Blobs = []PlanBlob{}
	}
	if p.Tags == nil {
		p.Tags = []TagWrite{}
	}
	return nil
}

// blobsPresent asks a registry destination whether it holds each blob a
// mount would not bring: a dry run's extra reads, or, with record, a
// run's, whose answers the blobs' transfers use (see blobFlights.found).
func (e *engine) blobsPresent(ctx context.Context, blobs []neededBlob, record bool) ([]bool, error) {
	rd, ok := e.dst.(*registryDestination)
	if !ok {
		return nil, nil
	}
	present := make([]bool, len(blobs))
	err := each(ctx, e.smallLimit, indexes(len(blobs)), func(ctx context.Context, i int) error {
		b := blobs[i]
		if b.urls != nil || e.sameHost(b.engine(e)) {
			return nil
		}
		ok, err := rd.ep.Client.BlobExists(ctx, rd.ep.Repository, b.Digest)
		present[i] = ok
		if err == nil && record {
			e.flights.found.Store(blobKey(rd.ep, b.Digest), ok)
		}
		return err
	})
	return present, err
}

// layoutHolds says which blobs the OCI layout a copy writes in place holds
// already, as its destination's TryReusingBlob finds them (a file in its
// blob directory, or in the shared one): the run reads none of those from
// the source.
func (e *engine) layoutHolds(blobs []neededBlob) []bool {
	dir := filepath.Join(e.layoutBlobs, "blobs")
	if sys := e.opts.SystemContext; sys != nil && sys.OCISharedBlobDirPath != "" {
		dir = sys.OCISharedBlobDirPath
	}
	present := make([]bool, len(blobs))
	for i, b := range blobs {
		if b.urls != nil || b.Digest.Validate() != nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, b.Digest.Algorithm().String(), b.Digest.Encoded()))
		present[i] = err == nil && fi.Mode().IsRegular()
	}
	return present
}

// sameHost says whether src reads the registry e writes: its blobs are
// mounted.
func (e *engine) sameHost(src *engine) bool {
	rs, ok := src.src.(*registrySource)
	rd, ok2 := e.dst.(*registryDestination)
	return ok && ok2 && rs.ep.Client.Host == rd.ep.Client.Host
}

// blobPlan is what the run does with blob b and the registry requests it
// makes for it; present is whether the destination holds b, nil when the
// plan does not know (a run's own plan into a repository without tags: it
// finds out as it writes); headed: the plan made the HEAD of a repository
// with tags, and the run does not. The requests follow registryBlob:
//   - within a registry, one mount (which answers 201 whether or not the
//     repository held the blob);
//   - into a repository without tags, a mount from the repository itself
//     (which opens the upload session when the blob is missing) while the
//     source is opened (one GET of a registry source, unless the blob is
//     empty), then, when it is missing, the upload's PUT: 3 requests, 2
//     when the mount finds it (the GET is made all the same);
//   - into a repository with tags, a HEAD, then, when it is missing, the
//     upload's POST, the source's GET and the PUT: 4 requests, 1 when
//     the HEAD finds it (a run's own plan makes the HEAD and counts it
//     with its reads);
//   - into a local destination, the source's GET, none when an OCI layout
//     written in place holds the blob (see layoutHolds);
//   - a foreign layer is read from its URLs, no registry's.
//
// A blob the plan does not know about is predicted missing (a dry run
// knows).
func (e *engine) blobPlan(b neededBlob, present *bool, headed bool) (action string, requests int) {
	get := 0
	if _, ok := b.engine(e).src.(*registrySource); ok && b.Size != 0 {
		get = 1
	}
	isPresent := present != nil && *present
	rd, toRegistry := e.dst.(*registryDestination)
	switch {
	case b.urls != nil:
		return actionFetch, 0
	case !toRegistry && isPresent:
		return actionPresent, 0
	case !toRegistry:
		return actionCopy, get
	case e.sameHost(b.engine(e)):
		return actionMount, 1
	case rd.ep.New && isPresent:
		return actionPresent, 1 + get
	case rd.ep.New:
		return actionCopy, 2 + get
	}
	head := 1
	if headed {
		head = 0
	}
	if isPresent {
		return actionPresent, head
	}
	return actionCopy, head + 2 + get
}

// manifestWrites is how many manifest PUTs write(tops) makes to a
// registry destination: one per manifest the destination lacks, except a
// top that is written under its tags, which costs one per tag that
// changes.
func (e *engine) manifestWrites(tops []topNode) int {
	if _, ok := e.dst.(*registryDestination); !ok {
		return 0
	}
	tagged := map[*node]int{}
	isTop := map[*node]bool{}
	var roots []*node
	for _, t := range tops {
		roots = append(roots, t.n)
		isTop[t.n] = true
		if t.tag != "" {
			tagged[t.n]++
		}
	}
	n := 0
	manifests, _ := needed(e.fetchForeign, roots...)
	for _, m := range manifests {
		if !isTop[m] || tagged[m] == 0 {
			n++
		}
	}
	for _, c := range tagged {
		n += c
	}
	return n
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
