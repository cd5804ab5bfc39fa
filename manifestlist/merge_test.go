package manifestlist

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

func dlist(ds ...imgspecv1.Descriptor) *List {
	return &List{MediaType: manifest.DockerV2ListMediaType, Manifests: ds}
}

func olist(ds ...imgspecv1.Descriptor) *List {
	return &List{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: ds}
}

func digests(ds []imgspecv1.Descriptor) []digest.Digest {
	var out []digest.Digest
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

// changeString renders a change compactly: "added linux/amd64 sha256:1234".
func changeString(c Change) string {
	short := func(d digest.Digest) string {
		if d == "" {
			return "-"
		}
		return d.Encoded()[:8]
	}
	p := c.Platform
	if c.OldPlatform != "" {
		p = c.OldPlatform + ">" + p
	}
	s := fmt.Sprintf("%s %s %s>%s", c.Action, p, short(c.Old), short(c.New))
	if c.Attestation {
		s += " att(" + short(c.Subject) + ")"
	}
	return s
}

func TestMerge(t *testing.T) {
	// Source images.
	sAmd, sArm7, sArm64 := docker("s-amd64", "linux/amd64"), docker("s-arm7", "linux/arm/v7"), docker("s-arm64", "linux/arm64")
	oAmd, oArm64 := oci("so-amd64", "linux/amd64"), oci("so-arm64", "linux/arm64")
	// Destination images.
	dAmd, dArm6, dArm7, dS390x := docker("d-amd64", "linux/amd64"), docker("d-arm6", "linux/arm/v6"), docker("d-arm7", "linux/arm/v7"), docker("d-s390x", "linux/s390x")
	dWin, sWin := docker("d-win", "windows/amd64"), docker("s-win", "windows/amd64")
	dWinO := oci("do-win", "windows/amd64")
	dWinAtt := attestation("do-win-att", dWinO)
	win2019b := docker("w2019b", "windows/amd64:10.0.17763.5329")
	win2019feat := docker("w2019feat", "windows/amd64:10.0.17763.5329")
	win2019feat.Platform.OSFeatures = []string{"win32k"}
	win2019, win2022 := docker("w2019", "windows/amd64:10.0.17763.1"), docker("w2022", "windows/amd64:10.0.20348.1")
	// Attestations.
	oAmdAtt, oArm64Att := attestation("so-amd64-att", oAmd), attestation("so-arm64-att", oArm64)
	dAmdO, dS390xO := oci("do-amd64", "linux/amd64"), oci("do-s390x", "linux/s390x")
	dAmdAtt, dS390xAtt := attestation("do-amd64-att", dAmdO), attestation("do-s390x-att", dS390xO)
	bareS, bareD := docker("bare-s", ""), docker("bare-d", "")
	// What a single image's config or a foreign list may carry.
	badPlatform := docker("bad", "")
	badPlatform.Platform = &imgspecv1.Platform{OS: "linux", Architecture: "sparc64"}
	sha512Entry := docker("sha512", "linux/arm64")
	sha512Entry.Digest = digest.Digest("sha512:" + strings.Repeat("ab", 64))
	annotatedSrc := olist(oAmd)
	annotatedSrc.Annotations = map[string]string{"org.opencontainers.image.version": "2"}
	annotatedDst := olist(dS390xO)
	annotatedDst.Annotations = map[string]string{"org.opencontainers.image.version": "1"}

	tests := map[string]struct {
		src, dst     *List
		opts         MergeOptions
		want         []digest.Digest
		wantMT       string
		wantChanges  []string
		wantAnnot    map[string]string
		unchanged    bool
		sameAsSource bool
		typeChanged  string
		warnings     []string
		wantErr      string
	}{
		"linux and windows amd64 are different platforms": {
			src: dlist(sAmd), dst: dlist(dWin),
			want: []digest.Digest{sAmd.Digest, dWin.Digest}, wantMT: manifest.DockerV2ListMediaType,
		},
		"linux replaces windows amd64 with arch matching": {
			src: dlist(sAmd), dst: dlist(dWin), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{sAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges:  []string{"replaced windows/amd64>linux/amd64 " + dWin.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8]},
			sameAsSource: true,
		},
		"arm v6 and v7 both kept": {
			src: dlist(sArm7), dst: dlist(dArm6),
			want: []digest.Digest{sArm7.Digest, dArm6.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{"added linux/arm/v7 ->" + sArm7.Digest.Encoded()[:8], "kept linux/arm/v6 " + dArm6.Digest.Encoded()[:8] + ">" + dArm6.Digest.Encoded()[:8]},
		},
		"windows os.version differs": {
			src: dlist(win2022), dst: dlist(win2019),
			want: []digest.Digest{win2022.Digest, win2019.Digest}, wantMT: manifest.DockerV2ListMediaType,
		},
		"replace and keep, src first": {
			src: dlist(sAmd, sArm7), dst: dlist(dS390x, dAmd, dArm7),
			want: []digest.Digest{sAmd.Digest, sArm7.Digest, dS390x.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8],
				"replaced linux/arm/v7 " + dArm7.Digest.Encoded()[:8] + ">" + sArm7.Digest.Encoded()[:8],
				"kept linux/s390x " + dS390x.Digest.Encoded()[:8] + ">" + dS390x.Digest.Encoded()[:8],
			},
		},
		"attestation of a replaced platform dropped, new one kept": {
			src: olist(oAmd, oAmdAtt), dst: olist(dAmdO, dAmdAtt),
			want: []digest.Digest{oAmd.Digest, oAmdAtt.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmdO.Digest.Encoded()[:8] + ">" + oAmd.Digest.Encoded()[:8],
				"added unknown/unknown ->" + oAmdAtt.Digest.Encoded()[:8] + " att(" + oAmd.Digest.Encoded()[:8] + ")",
				"dropped unknown/unknown " + dAmdAtt.Digest.Encoded()[:8] + ">- att(" + dAmdO.Digest.Encoded()[:8] + ")",
			},
			sameAsSource: true,
		},
		"dst attestation whose subject stays is kept": {
			src: olist(oArm64, oArm64Att), dst: olist(dS390xO, dS390xAtt),
			want: []digest.Digest{oArm64.Digest, oArm64Att.Digest, dS390xO.Digest, dS390xAtt.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
		},
		"platforms subset": {
			src: olist(oAmd, oAmdAtt, oArm64, oArm64Att), dst: olist(dAmdO, dAmdAtt, dS390xO),
			opts: MergeOptions{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "arm64"}}},
			want: []digest.Digest{oArm64.Digest, oArm64Att.Digest, dAmdO.Digest, dAmdAtt.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
		},
		"platforms subset, arm64/v8 finds arm64": {
			src: dlist(sAmd, sArm64), dst: dlist(dAmd),
			opts: MergeOptions{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
			want: []digest.Digest{sArm64.Digest, dAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
		},
		"platforms subset names a platform src lacks": {
			src: dlist(sAmd, sArm64), dst: dlist(dAmd),
			opts:    MergeOptions{Platforms: []imgspecv1.Platform{{OS: "linux", Architecture: "s390x"}}},
			wantErr: "SOURCE: no entry for platform linux/s390x; the list has linux/amd64, linux/arm64",
		},
		"platform-less entries": {
			src: olist(oAmd, bareS), dst: olist(dAmdO, bareD, dS390xO),
			want: []digest.Digest{oAmd.Digest, bareS.Digest, bareD.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			warnings: []string{"source entry " + bareS.Digest.String() + " has no platform; kept"},
		},
		"platform-less entry in both is not duplicated": {
			src: olist(oAmd, bareS), dst: olist(bareS, dS390xO),
			want: []digest.Digest{oAmd.Digest, bareS.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			warnings: []string{"source entry " + bareS.Digest.String() + " has no platform; kept"},
		},
		"invalid platform in source": {
			src: dlist(badPlatform), dst: dlist(dS390x),
			wantErr: "merge: source: entry 0 (" + badPlatform.Digest.String() + `): invalid platform "linux/sparc64"`,
		},
		"sha512 digest in destination": {
			src: dlist(sAmd), dst: dlist(sha512Entry),
			wantErr: "merge: destination: entry 0: digest sha512:",
		},
		"duplicate platform in source": {
			src: dlist(sAmd, dAmd), dst: dlist(dS390x),
			wantErr: "source list has two entries for platform linux/amd64: " + sAmd.Digest.String() + " and " + dAmd.Digest.String(),
		},
		"arch matching: one architecture in several OSes, none provided, all kept": {
			src: dlist(sArm7), dst: dlist(dAmd, dWin), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{sArm7.Digest, dAmd.Digest, dWin.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"added linux/arm/v7 ->" + sArm7.Digest.Encoded()[:8],
				"kept linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + dAmd.Digest.Encoded()[:8],
				"kept windows/amd64 " + dWin.Digest.Encoded()[:8] + ">" + dWin.Digest.Encoded()[:8],
			},
		},
		"arch matching: a source architecture replaces every destination entry of it, whatever the OS": {
			src: dlist(sAmd), dst: dlist(dAmd, dWin, dS390x), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{sAmd.Digest, dS390x.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8],
				"replaced windows/amd64>linux/amd64 " + dWin.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8],
				"kept linux/s390x " + dS390x.Digest.Encoded()[:8] + ">" + dS390x.Digest.Encoded()[:8],
			},
		},
		"platform matching: the same lists keep windows": {
			src: dlist(sAmd), dst: dlist(dAmd, dWin, dS390x),
			want: []digest.Digest{sAmd.Digest, dWin.Digest, dS390x.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8],
				"kept windows/amd64 " + dWin.Digest.Encoded()[:8] + ">" + dWin.Digest.Encoded()[:8],
				"kept linux/s390x " + dS390x.Digest.Encoded()[:8] + ">" + dS390x.Digest.Encoded()[:8],
			},
		},
		"arch matching: variants of one architecture all replaced": {
			src: dlist(sArm7), dst: dlist(dArm6, dAmd), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{sArm7.Digest, dAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/arm/v6>linux/arm/v7 " + dArm6.Digest.Encoded()[:8] + ">" + sArm7.Digest.Encoded()[:8],
				"kept linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + dAmd.Digest.Encoded()[:8],
			},
		},
		"arch matching: source linux and windows amd64, each destination entry replaced by its own OS": {
			src: dlist(sAmd, sWin), dst: dlist(dWin, dAmd), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{sAmd.Digest, sWin.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + sAmd.Digest.Encoded()[:8],
				"replaced windows/amd64 " + dWin.Digest.Encoded()[:8] + ">" + sWin.Digest.Encoded()[:8],
			},
			sameAsSource: true,
		},
		"arch matching: a destination entry the source also holds is kept, its other OS replaced": {
			src: dlist(dAmd), dst: dlist(dAmd, dWin), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{dAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"kept linux/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + dAmd.Digest.Encoded()[:8],
				"replaced windows/amd64>linux/amd64 " + dWin.Digest.Encoded()[:8] + ">" + dAmd.Digest.Encoded()[:8],
			},
			sameAsSource: true,
		},
		"arch matching drops the attestations of every replaced entry": {
			src: olist(oAmd, oAmdAtt), dst: olist(dAmdO, dAmdAtt, dWinO, dWinAtt, dS390xO), opts: MergeOptions{Match: MatchArch},
			want: []digest.Digest{oAmd.Digest, oAmdAtt.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			wantChanges: []string{
				"replaced linux/amd64 " + dAmdO.Digest.Encoded()[:8] + ">" + oAmd.Digest.Encoded()[:8],
				"replaced windows/amd64>linux/amd64 " + dWinO.Digest.Encoded()[:8] + ">" + oAmd.Digest.Encoded()[:8],
				"added unknown/unknown ->" + oAmdAtt.Digest.Encoded()[:8] + " att(" + oAmd.Digest.Encoded()[:8] + ")",
				"kept linux/s390x " + dS390xO.Digest.Encoded()[:8] + ">" + dS390xO.Digest.Encoded()[:8],
				"dropped unknown/unknown " + dAmdAtt.Digest.Encoded()[:8] + ">- att(" + dAmdO.Digest.Encoded()[:8] + ")",
				"dropped unknown/unknown " + dWinAtt.Digest.Encoded()[:8] + ">- att(" + dWinO.Digest.Encoded()[:8] + ")",
			},
		},
		"arch matching with --platforms takes the exact platform only": {
			src: dlist(sAmd, sWin), dst: dlist(dAmd, dWin, dS390x), opts: MergeOptions{Match: MatchArch, Platforms: []imgspecv1.Platform{{OS: "windows", Architecture: "amd64"}}},
			want: []digest.Digest{sWin.Digest, dS390x.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced linux/amd64>windows/amd64 " + dAmd.Digest.Encoded()[:8] + ">" + sWin.Digest.Encoded()[:8],
				"replaced windows/amd64 " + dWin.Digest.Encoded()[:8] + ">" + sWin.Digest.Encoded()[:8],
				"kept linux/s390x " + dS390x.Digest.Encoded()[:8] + ">" + dS390x.Digest.Encoded()[:8],
			},
		},
		"windows revision of one build replaces it": {
			src: dlist(win2019b), dst: dlist(win2019, win2022),
			want: []digest.Digest{win2019b.Digest, win2022.Digest}, wantMT: manifest.DockerV2ListMediaType,
			wantChanges: []string{
				"replaced windows/amd64:10.0.17763.1>windows/amd64:10.0.17763.5329 " + win2019.Digest.Encoded()[:8] + ">" + win2019b.Digest.Encoded()[:8],
				"kept windows/amd64:10.0.20348.1 " + win2022.Digest.Encoded()[:8] + ">" + win2022.Digest.Encoded()[:8],
			},
		},
		"platforms subset, windows without a version takes every build": {
			src: dlist(win2019b, win2022, sAmd), dst: dlist(dAmd),
			opts: MergeOptions{Platforms: []imgspecv1.Platform{{OS: "windows", Architecture: "amd64"}}},
			want: []digest.Digest{win2019b.Digest, win2022.Digest, dAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
		},
		"platforms subset: os.features do not stop a selection, os.version selects a build": {
			src: dlist(win2019feat, win2022, sAmd), dst: dlist(dAmd),
			opts: MergeOptions{Platforms: []imgspecv1.Platform{{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}}},
			want: []digest.Digest{win2019feat.Digest, dAmd.Digest}, wantMT: manifest.DockerV2ListMediaType,
		},
		"unchanged keeps dst order": {
			src: dlist(dArm7, dAmd), dst: dlist(dAmd, dS390x, dArm7),
			want: []digest.Digest{dAmd.Digest, dS390x.Digest, dArm7.Digest}, wantMT: manifest.DockerV2ListMediaType,
			unchanged: true,
		},
		"same as source": {
			src: dlist(sAmd, sArm7), dst: dlist(dAmd),
			want: []digest.Digest{sAmd.Digest, sArm7.Digest}, wantMT: manifest.DockerV2ListMediaType,
			sameAsSource: true,
		},
		"no destination": {
			src: olist(oAmd, oAmdAtt), dst: nil,
			want: []digest.Digest{oAmd.Digest, oAmdAtt.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			wantChanges: []string{
				"added linux/amd64 ->" + oAmd.Digest.Encoded()[:8],
				"added unknown/unknown ->" + oAmdAtt.Digest.Encoded()[:8] + " att(" + oAmd.Digest.Encoded()[:8] + ")",
			},
			sameAsSource: true,
		},
		"type forced to OCI": {
			src: olist(oArm64), dst: dlist(dAmd),
			want: []digest.Digest{oArm64.Digest, dAmd.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			typeChanged: "destination is a Docker manifest list but the result holds OCI manifests: writing an OCI index",
		},
		"docker requested with OCI entries": {
			src: olist(oArm64), dst: dlist(dAmd), opts: MergeOptions{MediaType: "docker"},
			wantErr: "a Docker manifest list cannot hold " + oArm64.Digest.String(),
		},
		"oci requested": {
			src: dlist(sAmd), dst: dlist(dS390x), opts: MergeOptions{MediaType: "oci"},
			want: []digest.Digest{sAmd.Digest, dS390x.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
		},
		"src annotations win": {
			src: annotatedSrc, dst: annotatedDst,
			want: []digest.Digest{oAmd.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			wantAnnot: map[string]string{"org.opencontainers.image.version": "2"},
		},
		"dst annotations kept when src has none": {
			src: olist(oAmd), dst: annotatedDst,
			want: []digest.Digest{oAmd.Digest, dS390xO.Digest}, wantMT: imgspecv1.MediaTypeImageIndex,
			wantAnnot: map[string]string{"org.opencontainers.image.version": "1"},
		},
		"bad media type": {
			src: dlist(sAmd), dst: dlist(dAmd), opts: MergeOptions{MediaType: "tar"},
			wantErr: `invalid media type "tar": accepted: docker, oci`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, plan, err := Merge(tc.src, tc.dst, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(digests(got.Manifests), tc.want) {
				t.Errorf("entries %v, want %v", digests(got.Manifests), tc.want)
			}
			if got.MediaType != tc.wantMT {
				t.Errorf("media type %s, want %s", got.MediaType, tc.wantMT)
			}
			if tc.wantChanges != nil {
				var cs []string
				for _, c := range plan.Changes {
					cs = append(cs, changeString(c))
				}
				if !reflect.DeepEqual(cs, tc.wantChanges) {
					t.Errorf("changes:\n got %q\nwant %q", cs, tc.wantChanges)
				}
			}
			if tc.wantAnnot != nil && !reflect.DeepEqual(got.Annotations, tc.wantAnnot) {
				t.Errorf("annotations %v, want %v", got.Annotations, tc.wantAnnot)
			}
			if plan.Unchanged != tc.unchanged || plan.SameAsSource != tc.sameAsSource {
				t.Errorf("Unchanged=%v SameAsSource=%v, want %v %v", plan.Unchanged, plan.SameAsSource, tc.unchanged, tc.sameAsSource)
			}
			if plan.TypeChanged != tc.typeChanged {
				t.Errorf("TypeChanged %q, want %q", plan.TypeChanged, tc.typeChanged)
			}
			if !reflect.DeepEqual(plan.Warnings, tc.warnings) {
				t.Errorf("warnings %q, want %q", plan.Warnings, tc.warnings)
			}
			if _, err := got.Serialize(); err != nil {
				t.Errorf("result does not serialize: %v", err)
			}
		})
	}
}

func TestMergeDoesNotAliasInputs(t *testing.T) {
	src := olist(oci("a", "linux/amd64"))
	dst := olist(oci("b", "linux/s390x"))
	got, _, err := Merge(src, dst, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Manifests[0].Platform.OS = "windows"
	got.Manifests[1].Platform.OS = "windows"
	if src.Manifests[0].Platform.OS != "linux" || dst.Manifests[0].Platform.OS != "linux" {
		t.Error("editing the result changed an input")
	}
}
