package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// Media types a conversion maps between Docker and OCI. Config bytes are
// kept (the two config formats are the same JSON), so config digests do not
// change; only the descriptors' types do.
var (
	toDockerType = map[string]string{
		imgspecv1.MediaTypeImageConfig:                                 "application/vnd.docker.container.image.v1+json",
		"application/vnd.oci.image.layer.v1.tar+gzip":                  "application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.oci.image.layer.v1.tar":                       "application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar":      "application/vnd.docker.image.rootfs.foreign.diff.tar",
	}
	toOCIType = map[string]string{}
)

func init() {
	for oci, docker := range toDockerType {
		toOCIType[docker] = oci
	}
}

// convertType maps one descriptor type to the target ("docker" or "oci");
// a type already of the target kind stays.
func convertType(mt, to string) (string, error) {
	table, other := toDockerType, toOCIType
	if to == "oci" {
		table, other = toOCIType, toDockerType
	}
	if t, ok := table[mt]; ok {
		return t, nil
	}
	if _, ok := other[mt]; ok {
		return mt, nil
	}
	if to == "docker" && strings.Contains(mt, "zstd") {
		return "", fmt.Errorf("layer type %s has no Docker form (Docker manifests know gzip and uncompressed layers only)", mt)
	}
	return "", fmt.Errorf("%s has no %s form", mt, to)
}

// dockerDescriptor and dockerManifest are the Docker v2s2 manifest fields,
// in the order Docker writes them.
type dockerDescriptor struct {
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Digest    digest.Digest `json:"digest"`
	URLs      []string      `json:"urls,omitempty"`
}

type dockerManifest struct {
	SchemaVersion int                `json:"schemaVersion"`
	MediaType     string             `json:"mediaType"`
	Config        dockerDescriptor   `json:"config"`
	Layers        []dockerDescriptor `json:"layers"`
}

// convertImage rewrites one image manifest's JSON to the target kind,
// without containers/image's UpdatedImage: the manifest, config and layer
// media types change, nothing else (as crane and regctl convert).
func convertImage(raw []byte, mediaType, to string) ([]byte, string, error) {
	var m imgspecv1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("parse manifest: %w", err)
	}
	if to == "oci" {
		if mediaType == imgspecv1.MediaTypeImageManifest {
			return raw, mediaType, nil
		}
		var err error
		if m.Config.MediaType, err = convertType(m.Config.MediaType, to); err != nil {
			return nil, "", fmt.Errorf("config: %w", err)
		}
		for i := range m.Layers {
			if m.Layers[i].MediaType, err = convertType(m.Layers[i].MediaType, to); err != nil {
				return nil, "", fmt.Errorf("layer %s: %w", m.Layers[i].Digest, err)
			}
		}
		m.MediaType = imgspecv1.MediaTypeImageManifest
		out, err := json.Marshal(m)
		return out, m.MediaType, err
	}
	if mediaType == manifest.DockerV2Schema2MediaType {
		return raw, mediaType, nil
	}
	switch {
	case m.Subject != nil:
		return nil, "", fmt.Errorf("a Docker manifest cannot carry a subject (%s)", m.Subject.Digest)
	case m.ArtifactType != "":
		return nil, "", fmt.Errorf("a Docker manifest cannot carry artifactType %q", m.ArtifactType)
	case len(m.Annotations) > 0:
		return nil, "", errors.New("a Docker manifest cannot carry annotations")
	}
	d := dockerManifest{SchemaVersion: 2, MediaType: manifest.DockerV2Schema2MediaType}
	ct, err := convertType(m.Config.MediaType, to)
	if err != nil {
		return nil, "", fmt.Errorf("config: %w", err)
	}
	d.Config = dockerDescriptor{MediaType: ct, Size: m.Config.Size, Digest: m.Config.Digest}
	d.Layers = []dockerDescriptor{}
	for _, l := range m.Layers {
		if len(l.Annotations) > 0 {
			return nil, "", fmt.Errorf("layer %s: a Docker manifest cannot carry annotations", l.Digest)
		}
		lt, err := convertType(l.MediaType, to)
		if err != nil {
			return nil, "", fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		d.Layers = append(d.Layers, dockerDescriptor{MediaType: lt, Size: l.Size, Digest: l.Digest, URLs: l.URLs})
	}
	out, err := json.Marshal(d)
	return out, d.MediaType, err
}

// convert rewrites the whole graph for Options.MediaType before anything
// is written: images first, then each list with its entries re-pointed at
// the new digests. BuildKit attestation manifests are carried as they are;
// their entries' vnd.docker.reference.digest is re-pointed at the image's
// new digest. What would lose information, and what is signed or attested
// (its signatures would then name a digest that is not copied), is refused.
func (e *engine) convert(ctx context.Context, root *node) (*node, error) {
	out, err := e.convertAll(ctx, []*node{root})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// convertAll converts several roots (a mirror's tags): what they share is
// converted once, and is one node in every converted graph.
func (e *engine) convertAll(ctx context.Context, roots []*node) ([]*node, error) {
	to := e.opts.MediaType
	done := map[*node]*node{}
	var conv func(n *node, depth int) (*node, error)
	conv = func(n *node, depth int) (*node, error) {
		if out := done[n]; out != nil {
			return out, nil
		}
		if depth > 16 {
			return nil, errors.New("lists nested too deep")
		}
		out := n
		if n.parsed.Kind == manifestlist.KindImage {
			if n.desc != nil && manifestlist.IsAttestation(*n.desc) {
				done[n] = n
				return n, nil
			}
			raw, mt, err := convertImage(n.Raw, n.MediaType, to)
			if err != nil {
				return nil, fmt.Errorf("convert %s%s to %s: %w", n.Digest, describe(n), to, err)
			}
			if mt != n.MediaType || string(raw) != string(n.Raw) {
				out = e.rewritten(n, raw, mt)
			}
		} else {
			l := *n.parsed.List
			l.Manifests = append([]imgspecv1.Descriptor(nil), l.Manifests...)
			newDigest := map[digest.Digest]digest.Digest{}
			children := make([]*node, len(n.children))
			for i, c := range n.children {
				cc, err := conv(c, depth+1)
				if err != nil {
					return nil, err
				}
				children[i] = cc
				newDigest[c.Digest] = cc.Digest
			}
			listType := imgspecv1.MediaTypeImageIndex
			if to == "docker" {
				listType = manifest.DockerV2ListMediaType
			}
			for i, d := range l.Manifests {
				if manifestlist.IsAttestation(d) {
					if to == "docker" {
						return nil, fmt.Errorf("entry %s (attestation of %s): cannot be converted to a Docker manifest list of %s: only an OCI index carries attestations (buildx writes them in OCI indexes only); use --media-type oci, or copy without --media-type",
							d.Digest, d.Annotations[manifestlist.AnnotationReferenceDigest], n.Digest)
					}
					subject := digest.Digest(d.Annotations[manifestlist.AnnotationReferenceDigest])
					if nd, ok := newDigest[subject]; ok && nd != subject {
						d.Annotations = cloneMap(d.Annotations)
						d.Annotations[manifestlist.AnnotationReferenceDigest] = nd.String()
					}
					l.Manifests[i] = d
					continue
				}
				c := children[i]
				d.Digest, d.Size, d.MediaType = c.Digest, int64(len(c.Raw)), c.MediaType
				l.Manifests[i] = d
			}
			changed := listType != n.MediaType
			for i, c := range n.children {
				changed = changed || children[i] != c || l.Manifests[i].Annotations[manifestlist.AnnotationReferenceDigest] != n.parsed.List.Manifests[i].Annotations[manifestlist.AnnotationReferenceDigest]
			}
			if changed {
				l.MediaType = listType
				raw, err := l.Serialize()
				if err != nil {
					return nil, fmt.Errorf("convert %s to %s: %w", n.Digest, to, err)
				}
				out = e.rewritten(n, raw, listType)
				out.children = children
			}
		}
		done[n] = out
		return out, nil
	}
	out := make([]*node, len(roots))
	for i, root := range roots {
		var err error
		if out[i], err = conv(root, 0); err != nil {
			return nil, err
		}
		setHeight(out[i])
	}
	if !e.autoConvert {
		if err := e.refuseSigned(ctx, done); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rewritten is n with new bytes.
func (e *engine) rewritten(n *node, raw []byte, mt string) *node {
	p, _ := manifestlist.Parse(raw, mt)
	from := n.Digest
	if n.from != "" {
		from = n.from
	}
	return &node{Digest: digest.FromBytes(raw), MediaType: mt, Size: int64(len(raw)), Raw: raw, parsed: p, children: n.children, desc: n.desc, from: from, converted: true, eng: n.eng}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// describe says what a manifest is in its list, for errors.
func describe(n *node) string {
	if n.desc == nil {
		return ""
	}
	if manifestlist.IsAttestation(*n.desc) {
		return " (attestation of " + n.desc.Annotations[manifestlist.AnnotationReferenceDigest] + ")"
	}
	if n.desc.Platform != nil {
		return " (" + manifestlist.FormatPlatform(n.desc.Platform) + ")"
	}
	return ""
}

// refuseSigned stops a conversion that would change the digest of a
// manifest something refers to by digest: a cosign signature, attestation
// or SBOM tag, a referrer (API or tag schema). Those would name a digest
// the copy does not write. Only a registry source is looked at.
func (e *engine) refuseSigned(ctx context.Context, done map[*node]*node) error {
	rs, ok := e.src.(*registrySource)
	if !ok {
		return nil
	}
	var changed []*node
	for old, n := range done {
		if n != old && old.from == "" {
			changed = append(changed, old)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	c, repo := rs.ep.Client, rs.ep.Repository
	tags, err := c.Tags(ctx, repo, 0)
	if err != nil {
		return fmt.Errorf("--media-type changes digests, and the tags of %s could not be listed to look for signatures: %w", rs.ep, err)
	}
	have := map[string]bool{}
	for _, t := range tags {
		have[t] = true
	}
	refuse := func(n *node, what string) error {
		return fmt.Errorf("--media-type %s would change the digest of %s%s and invalidate its %s; copy it unchanged instead", e.opts.MediaType, n.Digest, describe(n), what)
	}
	for _, n := range changed {
		base := n.Digest.Algorithm().String() + "-" + n.Digest.Encoded()
		for _, suffix := range cosignSuffixes {
			if have[base+suffix] {
				return refuse(n, cosignKind[suffix]+" "+rs.ep.Client.Host+"/"+repo+":"+base+suffix)
			}
		}
		if have[registry.ReferrersTag(n.Digest)] {
			if refs, err := c.ReferrersByTag(ctx, repo, n.Digest); err != nil || len(refs) > 0 {
				return refuse(n, "referrers (tag schema "+registry.ReferrersTag(n.Digest)+")")
			}
		}
	}
	for _, n := range changed {
		refs, err := c.ReferrersAPI(ctx, repo, n.Digest)
		if errors.Is(err, registry.ErrNoReferrersAPI) {
			break
		}
		if err != nil {
			return fmt.Errorf("--media-type changes digests, and the referrers of %s could not be read: %w", n.Digest, err)
		}
		if len(refs) > 0 {
			return refuse(n, fmt.Sprintf("referrers (%d: signatures, attestations, SBOMs; artifact type %s)", len(refs), refs[0].ArtifactType))
		}
	}
	return nil
}
