package e2e

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// windowsSource pushes a list of linux/amd64, an ltsc2019 windows/amd64
// that requires win32k (os.features) and an ltsc2022 windows/amd64, in
// that order.
func windowsSource(t *testing.T, reg *harness.Registry, repo string) harness.List {
	t.Helper()
	imgs := []harness.Image{
		reg.PushImage(t, repo, "linux", "linux/amd64", harness.ImageOptions{}),
		reg.PushImage(t, repo, "ltsc2019", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.5329", OSFeatures: []string{"win32k"}}),
		reg.PushImage(t, repo, "ltsc2022", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.20348.2227"}),
	}
	return reg.PushList(t, repo, "v1", imgs, harness.ListOptions{})
}

// TestCopyPlatformWindows (issue 19): --platform goes through the one
// platform rule: "windows/amd64" selects Windows entries whatever their
// os.features, ":os.version" selects by version (a build selects its
// updates, a whole version itself alone), and a docker-archive gets the
// entry the rule picks.
func TestCopyPlatformWindows(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo := testRepo(t, "src")
	list := windowsSource(t, src, srcRepo)
	ltsc2019, ltsc2022 := list.Images[1], list.Images[2]
	e := newEnv(t)
	from := src.Ref(srcRepo + ":v1")

	entries := func(t *testing.T, repo string) []string {
		t.Helper()
		_, ix := dst.MustGetIndex(t, repo, "v1")
		var out []string
		for _, d := range ix.Manifests {
			p, _ := json.Marshal(d.Platform)
			out = append(out, d.Digest+" "+string(p))
		}
		return out
	}
	want := func(imgs ...harness.Image) []string {
		var out []string
		for _, img := range imgs {
			p, _ := json.Marshal(img.Descriptor().Platform)
			out = append(out, img.Digest+" "+string(p))
		}
		return out
	}
	tests := map[string]struct {
		platform string
		want     []harness.Image
	}{
		"os.features do not stop a selection": {platform: "windows/amd64", want: []harness.Image{ltsc2019, ltsc2022}},
		"a build selects its updates":         {platform: "windows/amd64:10.0.17763", want: []harness.Image{ltsc2019}},
		"a whole os.version":                  {platform: "windows/amd64:10.0.20348.2227", want: []harness.Image{ltsc2022}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			repo := testRepo(t, "dst")
			d := mustCopy(t, e, "--platform", tc.platform, from, dst.Ref(repo+":v1"))
			if m := dst.MustGetManifest(t, repo, "v1"); m.Digest != d {
				t.Errorf("copy printed %s, the destination holds %s", d, m.Digest)
			}
			if got, want := entries(t, repo), want(tc.want...); !slices.Equal(got, want) {
				t.Errorf("--platform %s: destination entries\n%s\nwant\n%s", tc.platform, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}

	t.Run("another update of the build", func(t *testing.T) {
		repo := testRepo(t, "dst")
		e.mlistFails(t, `no entry for platform windows/amd64:10\.0\.17763\.1; the list has linux/amd64, windows/amd64:10\.0\.17763\.5329, windows/amd64:10\.0\.20348\.2227`,
			"copy", "--platform", "windows/amd64:10.0.17763.1", from, dst.Ref(repo+":v1"))
		if tags := dst.Tags(t, repo); tags != nil {
			t.Errorf("destination has tags %v after a refused copy", tags)
		}
	})

	// A docker-archive holds one image: the first entry the rule selects,
	// the ltsc2019 one with its win32k requirement.
	t.Run("docker-archive", func(t *testing.T) {
		for _, tc := range []struct {
			platform string
			want     harness.Image
		}{{"windows/amd64", ltsc2019}, {"windows/amd64:10.0.20348", ltsc2022}} {
			archive := filepath.Join(t.TempDir(), "app.tar")
			if d := mustCopy(t, e, "--platform", tc.platform, from, "docker-archive:"+archive+":mlist-e2e/win:1"); d != tc.want.Digest {
				t.Errorf("--platform %s to a docker-archive copied %s, want %s (%s)", tc.platform, d, tc.want.Digest, tc.want.Tag)
			}
			// The archive holds that image's config: back to a registry as
			// itself, the copy's digest is recomputed from what the archive
			// holds, so compare configs instead.
			repo := testRepo(t, "back")
			mustCopy(t, e, "docker-archive:"+archive, dst.Ref(repo+":v1"))
			var back harness.ImageManifest
			if err := json.Unmarshal(dst.MustGetManifest(t, repo, "v1").Raw, &back); err != nil {
				t.Fatal(err)
			}
			if back.Config.Digest != tc.want.Config.Digest {
				t.Errorf("--platform %s: the archive holds config %s, want %s's %s", tc.platform, back.Config.Digest, tc.want.Tag, tc.want.Config.Digest)
			}
		}
	})
}

// TestEntryNames (issue 19): annotate and drop name an entry by a bare
// 12-hex digest prefix and by platform with os.version, whatever its
// os.features; a name that matches nothing is refused listing the entries
// as they can be named.
func TestEntryNames(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	list := windowsSource(t, reg, repo)
	linux, ltsc2019, ltsc2022 := list.Images[0], list.Images[1], list.Images[2]
	e := newEnv(t)
	draft := reg.Ref(repo + ":draft")
	e.mustMlist(t, "create", draft, reg.Ref(repo+":v1"))
	t.Cleanup(func() { e.mlist("rm", draft) })
	hex12 := func(img harness.Image) string { return strings.TrimPrefix(img.Digest, "sha256:")[:12] }

	e.mustMlist(t, "annotate", "--annotation", "org.example.which=ltsc2022", draft, hex12(ltsc2022))
	e.mustMlist(t, "annotate", "--annotation", "org.example.which=ltsc2019", draft, "windows/amd64:10.0.17763")
	var ix harness.Index
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", draft)), &ix); err != nil {
		t.Fatal(err)
	}
	annotated := map[string]string{}
	for _, d := range ix.Manifests {
		annotated[d.Digest] = d.Annotations["org.example.which"]
	}
	if want := map[string]string{linux.Digest: "", ltsc2019.Digest: "ltsc2019", ltsc2022.Digest: "ltsc2022"}; !maps.Equal(annotated, want) {
		t.Errorf("annotations by entry %v, want %v", annotated, want)
	}

	// Every form the error offers names the entry it lists.
	r := e.mlistFails(t, `no entry of \S+ matches "linux/s390x"; name one by platform, digest \(a prefix of 12\+ hex digits will do\) or source: `+
		`linux/amd64 `+regexp.QuoteMeta("sha256:"+hex12(linux))+` \(`, "drop", draft, "linux/s390x")
	if !strings.Contains(r.Stderr, "windows/amd64:10.0.17763.5329 sha256:"+hex12(ltsc2019)) {
		t.Errorf("the error does not list the ltsc2019 entry by platform and digest prefix:\n%s", r.Stderr)
	}
	e.mlistFails(t, `"windows/amd64" matches several entries of \S+; name one by digest: windows/amd64:10\.0\.17763\.5329 sha256:`+hex12(ltsc2019),
		"drop", draft, "windows/amd64")

	e.mustMlist(t, "drop", draft, hex12(ltsc2019))
	ix = harness.Index{}
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", draft)), &ix); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range ix.Manifests {
		left = append(left, d.Digest)
	}
	if want := []string{linux.Digest, ltsc2022.Digest}; !slices.Equal(left, want) {
		t.Errorf("after drop %s the draft holds %v, want %v", hex12(ltsc2019), left, want)
	}
}

// TestInspectPlatforms (issue 19): inspect's table shows a single image's
// platform, read from its config, and says whose an attestation is.
func TestInspectPlatforms(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	win := reg.PushImage(t, repo, "win", "windows/amd64", harness.ImageOptions{OSVersion: "10.0.17763.5329", OSFeatures: []string{"win32k"}})
	e := newEnv(t)

	mark := reg.Mark()
	table := e.mustMlist(t, "inspect", "--format", "table", reg.Ref(repo+":win"))
	if !regexp.MustCompile(`(?m)^windows/amd64:10\.0\.17763\.5329\s+` + win.Digest + `\s`).MatchString(table) {
		t.Errorf("inspect of a single image shows no platform row:\n%s", table)
	}
	// The platform costs one request, the config, and only where shown.
	if rs := reg.RequestsSince(mark).ForRepo(repo); rs.Count("", "/blobs/") != 1 || rs.Count("GET", "/blobs/"+win.Config.Digest) != 1 {
		t.Errorf("inspect --format table of a single image: want one blob request, its config's:\n%s", rs)
	}
	mark = reg.Mark()
	e.mustMlist(t, "inspect", reg.Ref(repo+":win"))
	if rs := reg.RequestsSince(mark).ForRepo(repo); rs.Count("", "/blobs/") != 0 {
		t.Errorf("inspect (JSON) of a single image read blobs:\n%s", rs)
	}

	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	list := reg.PushList(t, repo, "v1", imgs, harness.ListOptions{OCI: true, Attestations: true})
	table = e.mustMlist(t, "inspect", "--format", "table", reg.Ref(repo+":v1"))
	for i, img := range imgs {
		if !regexp.MustCompile(`(?m)^attestation of ` + regexp.QuoteMeta(img.Platform.String()) + `\s+` + list.Attestations[i].Digest + `\s`).MatchString(table) {
			t.Errorf("no row says %s is the attestation of %s:\n%s", list.Attestations[i].Digest, img.Platform, table)
		}
	}
}
