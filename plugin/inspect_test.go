package plugin

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/opencontainers/go-digest"
)

// TestInspectCommand checks what inspect shows of a registry list, a single
// image and a draft of the same name as a registry tag: the digest of the
// bytes --raw prints, and the platforms, configs and layers of -v.
func TestInspectCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	list := putIndex(s, "app", "v1", amd, arm)
	drafted := putIndex(s, "app", "drafted", amd)

	type entry struct{ platform, digest string }
	tests := map[string]struct {
		ref        string
		draft      []image // a draft called ref, of these images
		wantDigest digest.Digest
		want       []entry
		wantErr    []string
	}{
		"a registry list": {ref: list.ref, wantDigest: list.digest,
			want: []entry{{"linux/amd64", amd.digest.String()}, {"linux/arm64/v8", arm.digest.String()}}},
		"by digest": {ref: s.Host + "/app@" + list.digest.String(), wantDigest: list.digest,
			want: []entry{{"linux/amd64", amd.digest.String()}, {"linux/arm64/v8", arm.digest.String()}}},
		"a single image, its platform from its config": {ref: arm.ref, wantDigest: arm.digest,
			want: []entry{{"linux/arm64/v8", arm.digest.String()}}},
		// A draft of that name is shown, not the registry's list.
		"a draft before the registry": {ref: drafted.ref, draft: []image{amd, arm},
			want: []entry{{"linux/amd64", amd.digest.String()}, {"linux/arm64/v8", arm.digest.String()}}},

		"a missing tag":   {ref: s.Host + "/app:nosuch", wantErr: []string{"app:nosuch"}},
		"a bad reference": {ref: s.Host + "/App:v1", wantErr: []string{"App"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			if tc.draft != nil {
				saveDraft(t, tc.ref, "", tc.draft...)
				d := storedDraft(t, tc.ref)
				raw, _, err := d.Build()
				if err != nil {
					t.Fatal(err)
				}
				tc.wantDigest = digest.FromBytes(raw)
			}
			err := c.run(newInspectCommand, "--raw", tc.ref)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := digest.FromBytes(c.out.Bytes()); got != tc.wantDigest {
				t.Errorf("--raw printed bytes of digest %s, want %s", got, tc.wantDigest)
			}

			var v inspected
			if err := json.Unmarshal([]byte(c.mustRun(t, newInspectCommand, "-v", "--format", "json", tc.ref)), &v); err != nil {
				t.Fatal(err)
			}
			if v.Digest != tc.wantDigest {
				t.Errorf("-v digest %s, want %s", v.Digest, tc.wantDigest)
			}
			var got []entry
			for _, m := range v.Manifests {
				got = append(got, entry{m.Platform, m.Digest.String()})
				if m.ConfigDigest == "" || len(m.Layers) != 1 {
					t.Errorf("entry %s: config %q and %d layers, want a config and 1 layer", m.Digest, m.ConfigDigest, len(m.Layers))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entries %v, want %v", got, tc.want)
			}
		})
	}
}
