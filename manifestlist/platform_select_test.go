package manifestlist

import (
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSelectPlatforms(t *testing.T) {
	img := func(p string) imgspecv1.Descriptor {
		pl, err := ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Platform: &pl}
	}
	att := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest,
		Platform:    &imgspecv1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{AnnotationReferenceType: "attestation-manifest", AnnotationReferenceDigest: "sha256:" + strings.Repeat("a", 64)}}
	l := &List{Manifests: []imgspecv1.Descriptor{img("linux/amd64"), img("linux/arm64/v8"), att, img("windows/amd64:10.0.17763.5329")}}
	for _, tc := range []struct {
		platforms []string
		want      []bool
		err       string
	}{
		{platforms: []string{"linux/arm64"}, want: []bool{false, true, false, false}},
		{platforms: []string{"linux/amd64", "windows/amd64"}, want: []bool{true, false, false, true}},
		// The attestation is not named among what the list has.
		{platforms: []string{"linux/amd64", "linux/s390x"}, err: "no entry for platform linux/s390x; the list has linux/amd64, linux/arm64/v8, windows/amd64:10.0.17763.5329"},
	} {
		var ps []imgspecv1.Platform
		for _, p := range tc.platforms {
			pl, err := ParsePlatform(p)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pl)
		}
		got, err := SelectPlatforms(l, ps)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.platforms, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.platforms, err)
		case fmtBools(got) != fmtBools(tc.want):
			t.Errorf("%v: selected %v, want %v", tc.platforms, got, tc.want)
		}
	}
}

func fmtBools(b []bool) string {
	var s []string
	for _, x := range b {
		if x {
			s = append(s, "1")
		} else {
			s = append(s, "0")
		}
	}
	return strings.Join(s, ",")
}
