package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 10's platform matching as users see it: `merge --match arch` as
// pubtools-quay's ManifestListMerger, and --platform choosing entries by
// the OCI/containerd rules (linux/arm64 is linux/arm64/v8).

// TestMergeMatchArchEveryOS: a DESTINATION holding linux/amd64, windows/amd64 and
// linux/arm64 merged with a linux/amd64 SOURCE under --match arch keeps
// only SOURCE's amd64 (every DESTINATION amd64 goes, whatever its OS) and
// DESTINATION's arm64; the --dry-run plan shows both amd64 entries
// replaced. Matching by full platform (the default) keeps windows/amd64.
func TestMergeMatchArchEveryOS(t *testing.T) {
	reg := plainRegistry(t)
	dstRepo, srcRepo := testRepo(t, "app"), testRepo(t, "ci")
	dimgs := reg.PushImages(t, dstRepo, "old", harness.ImageOptions{}, "linux/amd64", "windows/amd64", "linux/arm64")
	dst := reg.PushList(t, dstRepo, "v1", dimgs, harness.ListOptions{})
	simgs := reg.PushImages(t, srcRepo, "new", harness.ImageOptions{}, "linux/amd64")
	reg.PushList(t, srcRepo, "build", simgs, harness.ListOptions{})
	from, to := reg.Ref(srcRepo+":build"), reg.Ref(dstRepo+":v1")
	linuxAMD64, windowsAMD64, arm64 := dimgs[0].Digest, dimgs[1].Digest, dimgs[2].Digest
	e := newEnv(t)

	plan := func(t *testing.T, args ...string) map[string]string {
		t.Helper()
		out := e.mustMlist(t, append([]string{"merge", "--dry-run", "--format", "json"}, append(args, from, to)...)...)
		var p mergePlanJSON
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("--format json: %v\n%s", err, out)
		}
		actions := map[string]string{} // old digest -> action
		for _, c := range p.Merge.Changes {
			if c.Old != "" {
				actions[c.Old] = c.Action
			}
		}
		return actions
	}

	t.Run("dry run", func(t *testing.T) {
		mark := reg.Mark()
		actions := plan(t, "--match", "arch")
		for what, dg := range map[string]string{"linux/amd64": linuxAMD64, "windows/amd64": windowsAMD64} {
			if actions[dg] != "replaced" {
				t.Errorf("plan: DESTINATION's %s %s is %q, want replaced (all actions: %v)", what, dg, actions[dg], actions)
			}
		}
		if actions[arm64] != "kept" {
			t.Errorf("plan: DESTINATION's linux/arm64 is %q, want kept", actions[arm64])
		}
		// The table names the entry that goes by its own platform: a user
		// must see that windows/amd64 leaves the list.
		table := e.mustMlist(t, "merge", "--dry-run", "--match", "arch", from, to)
		lines := strings.Split(table, "\n")
		i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, windowsAMD64) })
		if i < 0 || !strings.Contains(lines[i], "replaced") || !strings.Contains(lines[i], "windows/amd64") {
			t.Errorf("the dry-run table does not show windows/amd64 %s as replaced:\n%s", windowsAMD64, table)
		}
		if w := mergeWrites(reg.RequestsSince(mark)); len(w) > 0 {
			t.Errorf("--dry-run wrote:\n%s", w)
		}
		if actions := plan(t); actions[windowsAMD64] != "kept" {
			t.Errorf("matching by platform, DESTINATION's windows/amd64 is %q, want kept", actions[windowsAMD64])
		}
	})

	t.Run("merge", func(t *testing.T) {
		d := mergeStdoutDigest(t, e.mustMlist(t, "merge", "--match", "arch", from, to))
		m, ix := reg.MustGetIndex(t, dstRepo, "v1")
		if m.Digest != d || d == dst.Digest {
			t.Errorf("merge printed %s; DESTINATION is %s (was %s)", d, m.Digest, dst.Digest)
		}
		checkMergeImages(t, ix, map[string]string{"linux/amd64": simgs[0].Digest, "linux/arm64": arm64})
		if _, ok := ix.ForPlatform("windows/amd64"); ok {
			t.Errorf("windows/amd64 survived a --match arch merge with an amd64 SOURCE:\n%s", m.Raw)
		}
		checkMergeEntriesPresent(t, reg, dstRepo, ix)
	})
}

// TestCopyPlatformMatcher: --platform names platforms the OCI way. linux/arm64
// chooses an entry written linux/arm64/v8 and linux/arm64/v8 one written
// linux/arm64 (arm64's default variant); linux/arm/v7 does not choose
// linux/arm/v6.
func TestCopyPlatformMatcher(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name      string
		platforms []string // of the source list
		ask       string
		want      string // the platform of the entry copied, "" for a refusal
	}{
		{"arm64 chooses v8", []string{"linux/amd64", "linux/arm64/v8"}, "linux/arm64", "linux/arm64/v8"},
		{"v8 chooses arm64", []string{"linux/amd64", "linux/arm64"}, "linux/arm64/v8", "linux/arm64"},
		{"v7 is not v6", []string{"linux/amd64", "linux/arm/v6"}, "linux/arm/v7", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
			list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{}, harness.ListOptions{}, tc.platforms...)
			from, to := src.Ref(srcRepo+":v1"), dst.Ref(dstRepo+":v1")
			if tc.want == "" {
				mark := dst.Mark()
				e.mlistFails(t, tc.ask, "copy", "--platform", tc.ask, from, to)
				if w := writes(dst.RequestsSince(mark)); len(w) > 0 {
					t.Errorf("a refused copy wrote:\n%s", w)
				}
				return
			}
			mustCopy(t, e, "--platform", tc.ask, from, to)
			want, _ := (harness.Index{Manifests: imgDescriptors(list.Images)}).ForPlatform(tc.want)
			// One platform may arrive as a one-entry list or as the image.
			m := dst.MustGetManifest(t, dstRepo, "v1")
			got := []string{m.Digest}
			if m.IsList() {
				ix, err := m.Index()
				if err != nil {
					t.Fatal(err)
				}
				got = digests(ix.Images())
			}
			if !slices.Equal(got, []string{want.Digest}) {
				t.Errorf("--platform %s copied %v, want the %s entry %s", tc.ask, got, tc.want, want.Digest)
			}
		})
	}
}
