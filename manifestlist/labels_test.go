package manifestlist

import (
	"slices"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPlatformLabels(t *testing.T) {
	amd := docker("amd", "linux/amd64")
	win := docker("win", "windows/amd64:10.0.17763.5329")
	gone := docker("gone", "linux/arm64")
	bare := docker("bare", "")
	orphan := attestation("orphan", gone)
	noSubject := attestation("nosubject", amd)
	delete(noSubject.Annotations, AnnotationReferenceDigest)
	ds := []imgspecv1.Descriptor{amd, attestation("amd-att", amd), win, attestation("win-att", win), bare, orphan, noSubject}
	want := []string{
		"linux/amd64", "attestation of linux/amd64",
		"windows/amd64:10.0.17763.5329", "attestation of windows/amd64:10.0.17763.5329",
		"no platform", "attestation of " + gone.Digest.String()[:7+12], "attestation",
	}
	if got := PlatformLabels(ds); !slices.Equal(got, want) {
		t.Errorf("PlatformLabels =\n%q\nwant\n%q", got, want)
	}
}
