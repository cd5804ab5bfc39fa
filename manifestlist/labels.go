package manifestlist

import (
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// PlatformLabels names each entry of ds for a table, in order: its platform
// (FormatPlatform); for an attestation, "attestation of PLATFORM", the
// platform of the image its reference-digest annotation names, or
// "attestation of sha256:SHORT" when that image is not in ds; "no
// platform" for an entry without one. An attestation's own platform is
// unknown/unknown, which says nothing about whose it is.
func PlatformLabels(ds []imgspecv1.Descriptor) []string {
	platformOf := map[digest.Digest]string{}
	for _, d := range ds {
		if !IsAttestation(d) {
			platformOf[d.Digest] = FormatPlatform(d.Platform)
		}
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		switch {
		case IsAttestation(d):
			subject := digest.Digest(d.Annotations[AnnotationReferenceDigest])
			p, ok := platformOf[subject]
			switch {
			case ok && p != "":
				out[i] = "attestation of " + p
			case subject != "":
				out[i] = "attestation of " + ShortDigest(subject)
			default:
				out[i] = "attestation"
			}
		case FormatPlatform(d.Platform) == "":
			out[i] = "no platform"
		default:
			out[i] = FormatPlatform(d.Platform)
		}
	}
	return out
}

// ShortDigest is "sha256:" and the first 12 hex digits, the shortest form
// an ENTRY accepts: the one short form of a digest every command prints.
func ShortDigest(d digest.Digest) string {
	s := d.String()
	if n := len("sha256:") + minDigestPrefix; len(s) > n {
		return s[:n]
	}
	return s
}
