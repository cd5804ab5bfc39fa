package manifestlist

import (
	"fmt"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// chooseMergeType sets the media type of result, a merge's list: the one
// requested (docker, oci), else the destination's (the source's when there
// is none). A Docker list that cannot hold what the result carries becomes
// an OCI index, which plan.TypeChanged explains, unless docker was asked for.
func chooseMergeType(src, dst *List, requested string, result *List, plan *Plan) error {
	kind, err := ParseListType(requested)
	if err != nil {
		return err
	}
	base := src.MediaType
	if dst != nil {
		base = dst.MediaType
	}
	switch kind {
	case "docker":
		base = manifest.DockerV2ListMediaType
	case "oci":
		base = imgspecv1.MediaTypeImageIndex
	}
	if base != manifest.DockerV2ListMediaType {
		result.MediaType = imgspecv1.MediaTypeImageIndex
		return nil
	}
	needed, err := ListMediaType("", result.Manifests, len(result.Annotations) > 0 || result.ArtifactType != "" || result.Subject != nil)
	if err != nil {
		return err
	}
	if needed == manifest.DockerV2ListMediaType {
		result.MediaType = needed
		return nil
	}
	if kind == "docker" {
		_, err := ListMediaType("docker", result.Manifests, len(result.Annotations) > 0)
		if err == nil {
			err = fmt.Errorf("a Docker manifest list cannot carry artifactType or subject; use --media-type oci")
		}
		return fmt.Errorf("merge: %w", err)
	}
	result.MediaType = imgspecv1.MediaTypeImageIndex
	who := "source"
	if dst != nil {
		who = "destination"
	}
	why := "the result carries annotations"
	for _, m := range result.Manifests {
		if !isDockerChild(m.MediaType) {
			why = "the result holds OCI manifests"
			break
		}
	}
	plan.TypeChanged = fmt.Sprintf("%s is a Docker manifest list but %s: writing an OCI index", who, why)
	return nil
}
