package manifestlist

import (
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/distribution"
	dockerlist "github.com/docker/distribution/manifest/manifestlist"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// dockerPushMediaType is the type `docker manifest push` gives a list: an OCI
// index when the first entry is an OCI image manifest, otherwise a Docker
// manifest list, whatever the other entries are (docker/distribution's
// manifestlist.FromDescriptors).
func dockerPushMediaType(entries []imgspecv1.Descriptor) string {
	if len(entries) > 0 && entries[0].MediaType == imgspecv1.MediaTypeImageManifest {
		return imgspecv1.MediaTypeImageIndex
	}
	return manifest.DockerV2ListMediaType
}

// dockerPushBytes is the list `docker manifest push` writes for a draft
// (docker/cli cli/command/manifest/push.go, buildManifestList): each entry's
// media type, size, digest and platform, serialised by
// docker/distribution's manifestlist, three-space indented.
func dockerPushBytes(entries []Entry) ([]byte, error) {
	descs := make([]dockerlist.ManifestDescriptor, 0, len(entries))
	for _, e := range entries {
		d := dockerlist.ManifestDescriptor{Descriptor: distribution.Descriptor{
			MediaType: e.Descriptor.MediaType, Size: e.Descriptor.Size, Digest: e.Descriptor.Digest,
		}}
		if p := e.Descriptor.Platform; p != nil {
			d.Platform = dockerlist.PlatformSpec{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant}
		}
		descs = append(descs, d)
	}
	l, err := dockerlist.FromDescriptors(descs)
	if err != nil {
		return nil, err
	}
	_, raw, err := l.Payload()
	return raw, err
}

// maxNameGuesses bounds the names recoverName tries for one directory.
const maxNameGuesses = 4096

// recoverName finds the list reference a `docker manifest` draft directory
// stands for. docker/cli names the directory after the reference with ":"
// and "/" both replaced ("127.0.0.1:5000/app:dm" is "127.0.0.1-5000_app-dm"),
// and keeps the reference nowhere else, so every reference that escapes to
// dir is a candidate; of those, it prefers
//
//  1. one in the repository of an entry (lists and their images usually
//     share a repository), then one on the registry of an entry (docker
//     manifest push refuses entries of another registry);
//  2. a registry with a port ("127.0.0.1-5000" is 127.0.0.1:5000);
//  3. "/" over "_" (nested repositories are commoner than underscores);
//  4. the tag after the last "-" that can start one.
//
// It returns "" when no reference escapes to dir. Any candidate names the
// draft for push, inspect and rm, as for docker.
func recoverName(dir string, entries []Entry) string {
	var cands []string
	guess(dir, 0, "", &cands)
	best, bestScore := "", -1
	for _, c := range cands {
		named, err := reference.ParseNormalizedNamed(c)
		if err != nil || named.String() != c || escape(c) != dir {
			continue
		}
		if _, ok := named.(reference.Tagged); !ok {
			continue
		}
		score := 0
		for _, e := range entries {
			en, err := reference.ParseNormalizedNamed(e.Source)
			if err != nil {
				continue
			}
			switch {
			case en.Name() == named.Name():
				score = max(score, 4)
			case reference.Domain(en) == reference.Domain(named):
				score = max(score, 2)
			}
		}
		score *= 1000
		if strings.Contains(reference.Domain(named), ":") {
			score += 100
		}
		score += strings.Count(c, "/")
		// guess lists later tag separators first; ties keep the first.
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// guess appends to out every way of reading the escaped name s from i on,
// with "-" read as "-" or ":" and "_" as "_" or "/"; at most two ":" (a
// port and a tag), and at most maxNameGuesses names.
func guess(s string, i int, prefix string, out *[]string) {
	if len(*out) >= maxNameGuesses {
		return
	}
	j := strings.IndexAny(s[i:], "-_")
	if j < 0 {
		*out = append(*out, prefix+s[i:])
		return
	}
	j += i
	head := prefix + s[i:j]
	switch s[j] {
	case '_':
		guess(s, j+1, head+"_", out)
		// No "/" after a tag's ":"; a ":" before the first "/" is a port.
		if slash := strings.Index(head, "/"); slash < 0 || !strings.Contains(head[slash:], ":") {
			guess(s, j+1, head+"/", out)
		}
	case '-':
		guess(s, j+1, head+"-", out)
		if strings.Count(head, ":") < 2 {
			guess(s, j+1, head+":", out)
		}
	}
}
