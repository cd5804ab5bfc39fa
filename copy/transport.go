package copy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/docker-mlist/docker-mlist/manifestlist"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// transportCopy copies between containers/image transports with their
// ImageSource and ImageDestination, and converts manifests with
// containers/image's own image.UpdatedImage. It does what copy.Image does
// for docker-mlist's cases without linking containers/image's copy and
// signature packages, whose package initialisation (sigstore, ocicrypt,
// openpgp) would double the start-up time of every `docker` invocation that
// asks the plugin for its metadata.
type transportCopy struct {
	opts ImageOptions
	to   string // the destination, for progress lines
	src  types.ImageSource
	dst  types.ImageDestination
	// convertTo is the single-image manifest type to write, "" to keep each
	// manifest as it is.
	convertTo string
}

// CopyImage copies a list with all its images (or a single image, or with
// opts.Platform one platform's image) between containers/image locations:
// the path for local transports and for conversions.
func CopyImage(ctx context.Context, src, dst Location, opts ImageOptions) (digest.Digest, error) {
	d, err := copyImage(ctx, src, dst, opts)
	if err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return d, nil
}

func copyImage(ctx context.Context, src, dst Location, opts ImageOptions) (digest.Digest, error) {
	convertTo := ""
	switch opts.MediaType {
	case "":
	case "oci":
		convertTo = imgspecv1.MediaTypeImageManifest
	case "docker":
		convertTo = manifest.DockerV2Schema2MediaType
	default:
		return "", fmt.Errorf("invalid media type %q: accepted: docker, oci", opts.MediaType)
	}
	s, err := src.Image.NewImageSource(ctx, opts.SourceCtx)
	if err != nil {
		return "", err
	}
	defer s.Close()
	// Destinations write their index or archive at Commit, after every
	// blob was verified; a docker-archive opened but never committed is
	// removed by its Close.
	d, err := dst.Image.NewImageDestination(ctx, opts.DestinationCtx)
	if err != nil {
		return "", err
	}
	defer d.Close()
	t := &transportCopy{opts: opts, src: s, dst: d, convertTo: convertTo, to: dst.String()}

	raw, mt, err := s.GetManifest(ctx, nil)
	if err != nil {
		return "", err
	}
	mt = manifest.NormalizedMIMEType(mt)
	var top digest.Digest
	switch {
	case !manifest.MIMETypeIsMultiImage(mt):
		top, err = t.single(ctx, nil, -1)
	case opts.Platform != nil:
		var chosen digest.Digest
		if chosen, err = choose(raw, mt, *opts.Platform); err == nil {
			var l manifest.List
			if l, err = manifest.ListFromBlob(raw, mt); err == nil {
				top, err = t.single(ctx, &chosen, instanceSize(l, chosen))
			}
		}
	default:
		top, err = t.list(ctx, raw, mt)
	}
	if err != nil {
		return "", err
	}
	if err := d.Commit(ctx, image.UnparsedInstance(s, nil)); err != nil {
		return "", err
	}
	return top, nil
}

// instanceSize is the size a list's descriptor gives an entry, -1 if none.
func instanceSize(l manifest.List, d digest.Digest) int64 {
	if u, err := l.Instance(d); err == nil && u.Size > 0 {
		return u.Size
	}
	return -1
}

// single copies one image and its manifest.
func (t *transportCopy) single(ctx context.Context, instance *digest.Digest, size int64) (digest.Digest, error) {
	img, err := t.prepare(ctx, instance, size)
	if err != nil {
		return "", err
	}
	d, _, _, err := t.write(ctx, img, false)
	return d, err
}

// choose picks the entry of a list for one platform, as a runtime would.
func choose(raw []byte, mt string, p imgspecv1.Platform) (digest.Digest, error) {
	l, err := manifest.ListFromBlob(raw, mt)
	if err != nil {
		return "", err
	}
	return l.ChooseInstance(&types.SystemContext{OSChoice: p.OS, ArchitectureChoice: p.Architecture, VariantChoice: p.Variant})
}

// list copies every entry of a list, then the list itself, converted when
// asked or when the destination cannot hold the list type.
func (t *transportCopy) list(ctx context.Context, raw []byte, mt string) (digest.Digest, error) {
	if !slices.Contains(t.supported(), imgspecv1.MediaTypeImageIndex) && !slices.Contains(t.supported(), manifest.DockerV2ListMediaType) && len(t.supported()) > 0 {
		return "", fmt.Errorf("%s holds one image; choose it with --platform, or use oci-archive: for the whole list", t.dst.Reference().Transport().Name())
	}
	l, err := manifest.ListFromBlob(raw, mt)
	if err != nil {
		return "", err
	}
	// Every entry is read, checked and converted before anything is
	// written, so an entry that cannot be copied (an attestation that has
	// no Docker form, a corrupt manifest) fails the copy up front.
	instances := l.Instances()
	images := make([]types.Image, len(instances))
	for i, inst := range instances {
		if images[i], err = t.prepare(ctx, &inst, instanceSize(l, inst)); err != nil {
			return "", fmt.Errorf("entry %s%s: %w", inst, describeEntry(l, inst), err)
		}
	}
	updates := make([]manifest.ListUpdate, 0, len(instances))
	changed := false
	for i, inst := range instances {
		d, size, childMT, err := t.write(ctx, images[i], true)
		if err != nil {
			return "", fmt.Errorf("entry %s: %w", inst, err)
		}
		changed = changed || d != inst
		updates = append(updates, manifest.ListUpdate{Digest: d, Size: size, MediaType: childMT})
	}
	listMT := mt
	switch {
	case t.convertTo == imgspecv1.MediaTypeImageManifest:
		listMT = imgspecv1.MediaTypeImageIndex
	case t.convertTo == manifest.DockerV2Schema2MediaType:
		listMT = manifest.DockerV2ListMediaType
	}
	if supported := t.supported(); len(supported) > 0 && !slices.Contains(supported, listMT) {
		if t.convertTo == "" {
			return "", errPreserve(listMT)
		}
		return "", fmt.Errorf("the destination cannot hold a %s", listMT)
	}
	if changed || listMT != mt {
		if err := l.UpdateInstances(updates); err != nil {
			return "", err
		}
		if listMT != mt {
			if l, err = l.ConvertToMIMEType(listMT); err != nil {
				return "", err
			}
		}
		if raw, err = l.Serialize(); err != nil {
			return "", err
		}
	}
	if err := t.dst.PutManifest(ctx, raw, nil); err != nil {
		return "", err
	}
	return digest.FromBytes(raw), nil
}

// errPreserve explains a destination that would need a conversion nobody
// asked for: digests must not change silently.
func errPreserve(mt string) error {
	return fmt.Errorf("the destination cannot hold %s unchanged (an OCI layout holds only OCI manifests); convert with --media-type oci, which changes digests", mt)
}

// supported lists the manifest types the destination accepts; none means any.
func (t *transportCopy) supported() []string { return t.dst.SupportedManifestMIMETypes() }

// describeEntry says what a list entry is, for errors: its platform, or
// that it is an attestation.
func describeEntry(l manifest.List, d digest.Digest) string {
	var entry struct {
		Manifests []imgspecv1.Descriptor `json:"manifests"`
	}
	raw, err := l.Serialize()
	if err != nil || json.Unmarshal(raw, &entry) != nil {
		return ""
	}
	for _, e := range entry.Manifests {
		if e.Digest != d {
			continue
		}
		if manifestlist.IsAttestation(e) {
			return " (attestation of " + e.Annotations[manifestlist.AnnotationReferenceDigest] + ")"
		}
		if e.Platform != nil {
			return " (" + manifestlist.FormatPlatform(e.Platform) + ")"
		}
	}
	return ""
}

// prepare reads one image (instance of the source's list, or the source
// itself when instance is nil), checks its manifest against the size its
// list gives it (-1: none), and converts it when asked or when the
// destination needs it. Nothing is written.
func (t *transportCopy) prepare(ctx context.Context, instance *digest.Digest, size int64) (types.Image, error) {
	img, err := image.FromUnparsedImage(ctx, t.opts.SourceCtx, image.UnparsedInstance(t.src, instance))
	if err != nil {
		return nil, err
	}
	raw, mt, err := img.Manifest(ctx)
	if err != nil {
		return nil, err
	}
	if instance != nil {
		// UnparsedInstance checked the digest; the size is the list's claim.
		if size >= 0 && int64(len(raw)) != size {
			return nil, &CorruptError{Kind: "manifest", Digest: *instance, Source: t.from(), Size: size, GotSize: int64(len(raw))}
		}
	}
	target := t.convertTo
	if supported := t.supported(); target == "" && len(supported) > 0 && !slices.Contains(supported, mt) {
		if !t.lossy() {
			return nil, errPreserve(mt)
		}
		target = supported[0]
	}
	if target != "" && target != mt {
		if img, err = img.UpdatedImage(ctx, types.ManifestUpdateOptions{ManifestMIMEType: target,
			InformationOnly: types.ManifestUpdateInformation{Destination: t.dst}}); err != nil {
			return nil, fmt.Errorf("cannot be converted to %s: %w", target, err)
		}
	}
	return img, nil
}

// write copies a prepared image: blobs first, then its manifest. It
// returns the manifest's digest, size and type as written.
func (t *transportCopy) write(ctx context.Context, img types.Image, inList bool) (digest.Digest, int64, string, error) {
	if err := t.blobs(ctx, img); err != nil {
		return "", 0, "", err
	}
	raw, mt, err := img.Manifest(ctx)
	if err != nil {
		return "", 0, "", err
	}
	d := digest.FromBytes(raw)
	var at *digest.Digest
	if inList {
		at = &d
	}
	if err := t.dst.PutManifest(ctx, raw, at); err != nil {
		return "", 0, "", err
	}
	if t.opts.Report != nil {
		fmt.Fprintf(t.opts.Report, "copied %s to %s\n", d, t.to)
	}
	return d, int64(len(raw)), mt, nil
}

// from names the source, for errors.
func (t *transportCopy) from() string {
	ref := t.src.Reference()
	return ref.Transport().Name() + ":" + ref.StringWithinTransport()
}

// lossy reports destinations that never keep digests (a docker-archive
// stores what `docker load` reads), where converting needs no permission.
func (t *transportCopy) lossy() bool {
	return t.dst.Reference().Transport().Name() == "docker-archive"
}

// blobs copies the config and the layers an image needs.
func (t *transportCopy) blobs(ctx context.Context, img types.Image) error {
	config, err := img.ConfigBlob(ctx)
	if err != nil {
		return err
	}
	info := img.ConfigInfo()
	if _, err := t.dst.PutBlob(ctx, bytes.NewReader(config), types.BlobInfo{Digest: digest.FromBytes(config), Size: int64(len(config)), MediaType: info.MediaType}, none.NoCache, true); err != nil {
		return fmt.Errorf("config %s: %w", info.Digest, err)
	}
	layers := img.LayerInfos()
	put := func(ctx context.Context, _ int, l types.BlobInfo) error { return t.layer(ctx, l) }
	if t.dst.HasThreadSafePutBlob() {
		return ForEach(ctx, layers, put)
	}
	for i, l := range layers {
		if err := put(ctx, i, l); err != nil {
			return err
		}
	}
	return nil
}

func (t *transportCopy) layer(ctx context.Context, l types.BlobInfo) error {
	if len(l.URLs) > 0 && !t.dst.AcceptsForeignLayerURLs() {
		return fmt.Errorf("layer %s lives outside the registry (foreign URLs); the destination cannot refer to it", l.Digest)
	}
	if len(l.URLs) > 0 {
		return nil
	}
	if ok, _, err := t.dst.TryReusingBlob(ctx, l, none.NoCache, false); err != nil {
		return err
	} else if ok {
		return nil
	}
	r, size, err := t.src.GetBlob(ctx, l, none.NoCache)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer r.Close()
	switch {
	case l.Size < 0:
		l.Size = size
	case size >= 0 && size != l.Size:
		return &CorruptError{Kind: "blob", Digest: l.Digest, Source: t.from(), Size: l.Size, GotSize: size}
	}
	// Destinations trust the digest they are given: hash every byte, and
	// fail the read (so the blob is never stored) if they do not match.
	vr := &verifyingReader{r: r, v: newVerifier("blob", t.from(), l.Digest, l.Size)}
	got, err := t.dst.PutBlob(ctx, vr, l, none.NoCache, false)
	if vr.err != nil {
		return vr.err
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if got.Digest != l.Digest {
		return errors.New("layer " + l.Digest.String() + " was changed on the way: the destination stored " + got.Digest.String())
	}
	return nil
}
