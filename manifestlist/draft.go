package manifestlist

import (
	"fmt"
	"maps"

	"github.com/distribution/reference"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// Entry is one manifest of a draft list.
type Entry struct {
	// Source is the normalized reference the entry came from, e.g.
	// "127.0.0.1:5000/app:amd64" or "127.0.0.1:5000/app@sha256:...";
	// push uses it to find the repository that holds the manifest.
	Source string
	// Descriptor is the list entry: MediaType, Digest, Size, Platform,
	// Annotations, ArtifactType.
	Descriptor imgspecv1.Descriptor
	// Raw holds the exact manifest bytes; their sha256 is Descriptor.Digest.
	Raw []byte
	// Config is the platform the image's config declares, where the
	// command that added the entry read it (create does for single
	// images); nil when unknown. Commands warn when the entry's platform
	// contradicts it (ConfigContradiction).
	Config *imgspecv1.Platform
}

// Contradiction is ConfigContradiction for the entry's platform and its
// config's, "" when the config is unknown.
func (e Entry) Contradiction() string {
	if e.Config == nil || IsAttestation(e.Descriptor) {
		return ""
	}
	return ConfigContradiction(e.Descriptor.Platform, e.Config)
}

// Draft is a local, not yet pushed list: what create, annotate and push
// work on.
type Draft struct {
	// Name is the normalized list reference, e.g. "127.0.0.1:5000/app:v1".
	Name string
	// MediaType is the requested list type: "" (automatic), "docker" or "oci".
	MediaType string
	// Annotations are the index-level annotations.
	Annotations map[string]string
	// Entries are the list entries, in list order.
	Entries []Entry
	// Origin is the raw list the draft was started from (create --from),
	// nil otherwise. While the draft still describes that list, Build
	// returns these bytes, so pushing an unchanged draft keeps the digest;
	// the origin's artifactType and subject carry over to an OCI index.
	Origin []byte
	// Docker is set for a draft `docker manifest` made and docker-mlist
	// never wrote (it has no state file): Build then serialises the list
	// as `docker manifest push` does, so both tools push one digest.
	Docker bool
}

// Add appends e, or replaces in place an entry with the same digest so that
// re-adding an image keeps its position.
func (d *Draft) Add(e Entry) (replaced bool) {
	for i := range d.Entries {
		if d.Entries[i].Descriptor.Digest == e.Descriptor.Digest {
			d.Entries[i] = e
			return true
		}
	}
	d.Entries = append(d.Entries, e)
	return false
}

func (e Entry) label() string {
	name := e.Source
	if name == "" {
		name = e.Descriptor.Digest.String()
	}
	p := FormatPlatform(e.Descriptor.Platform)
	if IsAttestation(e.Descriptor) {
		p = "attestation"
	}
	if p == "" {
		p = "no platform"
	}
	return name + " (" + p + ")"
}

// normalizeRef returns the fully qualified form of a reference, with
// ":latest" added to a bare name as docker does, or "" if it does not parse.
func normalizeRef(s string) string {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return ""
	}
	return reference.TagNameOnly(named).String()
}

func repoName(s string) string {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return ""
	}
	return named.Name()
}

// CheckPlatforms refuses entries a runtime could not choose between: two
// images with the same platform, or an image without os or architecture.
// Attestations are exempt, since they carry unknown/unknown by design, and
// so are nested lists and artifacts, which an OCI index may hold without a
// platform.
func (d *Draft) CheckPlatforms() error {
	for _, e := range d.Entries {
		if needsPlatform(e.Descriptor) && !hasPlatform(e.Descriptor) {
			return fmt.Errorf("entry %s has no os/architecture; set them with annotate --os --arch", e.label())
		}
	}
	if err := d.ValidatePlatforms(); err != nil {
		return err
	}
	return d.CheckDuplicates()
}

// ValidatePlatforms applies ValidatePlatform to every platform the entries
// carry, wherever it came from (an image config, a registry's list, a
// `docker manifest` draft), naming the entry. Attestations are exempt, and
// so are platforms without os or architecture, which CheckPlatforms asks
// the user to complete with annotate.
func (d *Draft) ValidatePlatforms() error {
	for _, e := range d.Entries {
		if !hasPlatform(e.Descriptor) || IsAttestation(e.Descriptor) {
			continue
		}
		if err := ValidatePlatform(*e.Descriptor.Platform); err != nil {
			return fmt.Errorf("entry %s: %w", e.name(), err)
		}
	}
	return nil
}

// needsPlatform reports whether an entry must name a platform: every image,
// but not an attestation, a nested list or an artifact (an entry with an
// artifactType).
func needsPlatform(d imgspecv1.Descriptor) bool {
	return !IsAttestation(d) && !IsList(d.MediaType) && d.ArtifactType == ""
}

func (e Entry) name() string {
	if e.Source != "" {
		return e.Source
	}
	return e.Descriptor.Digest.String()
}

// List builds the list the draft describes, choosing its media type with
// ListMediaType. It does not check platforms; Build does.
func (d *Draft) List() (*List, error) {
	descs := make([]imgspecv1.Descriptor, 0, len(d.Entries))
	for _, e := range d.Entries {
		descs = append(descs, e.Descriptor)
	}
	if d.Docker {
		return &List{MediaType: dockerPushMediaType(descs), Manifests: descs}, nil
	}
	o := d.origin()
	mt, err := ListMediaType(d.MediaType, descs, len(d.Annotations) > 0)
	if err != nil && o != nil && o.MediaType == manifest.DockerV2ListMediaType && d.MediaType == "docker" {
		// The registry holds a Docker list with entries mlist would not
		// put in one (OCI images, as docker manifest writes them): the
		// draft keeps its type, and only pushed unchanged can it keep it.
		mt, err = manifest.DockerV2ListMediaType, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.Name, err)
	}
	l := &List{MediaType: mt, Annotations: maps.Clone(d.Annotations), Manifests: descs}
	if o != nil && mt == o.MediaType {
		l.ArtifactType, l.Subject = o.ArtifactType, o.Subject
	}
	return l, nil
}

// origin parses Origin; nil when there is none or it does not parse.
func (d *Draft) origin() *List {
	if d.Origin == nil {
		return nil
	}
	o, err := ParseList(d.Origin, "")
	if err != nil {
		return nil
	}
	return o
}

// Unchanged reports whether the draft still describes the list it was
// started from, so that Build returns the origin's bytes.
func (d *Draft) Unchanged() bool {
	o := d.origin()
	if o == nil {
		return false
	}
	l, err := d.List()
	if err != nil {
		return false
	}
	// Comparing both as OCI indexes compares what the lists say, not how
	// the origin happened to be formatted, and works for lists Serialize
	// would refuse to write (a Docker list holding OCI images).
	if o.MediaType != l.MediaType {
		return false
	}
	a, errA := o.asIndex().Serialize()
	b, errB := l.asIndex().Serialize()
	return errA == nil && errB == nil && string(a) == string(b)
}

// Build returns the serialized list ready to push, and its media type,
// after checking the entries' platforms (unless the draft is a registry's
// list, unchanged: the registry accepted it).
func (d *Draft) Build() (raw []byte, mediaType string, err error) {
	if len(d.Entries) == 0 {
		return nil, "", fmt.Errorf("list %s has no entries", d.Name)
	}
	if !d.Unchanged() {
		if err := d.CheckPlatforms(); err != nil {
			return nil, "", fmt.Errorf("list %s: %w", d.Name, err)
		}
	}
	raw, l, err := d.Serialize()
	if err != nil {
		return nil, "", err
	}
	return raw, l.MediaType, nil
}

// Serialize returns the bytes push writes for the draft, and the list they
// hold, without checking platforms: the origin's bytes while the draft is
// unchanged, the bytes `docker manifest push` writes for a docker draft,
// the list serialised otherwise.
func (d *Draft) Serialize() ([]byte, *List, error) {
	l, err := d.List()
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	switch {
	case d.Unchanged():
		// The registry accepted the origin: its exact bytes go back,
		// whatever mlist would refuse to write itself.
		return d.Origin, l, nil
	case d.Docker:
		raw, err = dockerPushBytes(d.Entries)
	default:
		raw, err = l.Serialize()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", d.Name, err)
	}
	return raw, l, nil
}
