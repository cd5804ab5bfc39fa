package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 19 item 1: one vocabulary of flags. A repeated --platform adds up in
// every command that selects platforms (buildx and crane take it so), and
// --platforms is the same flag.
func TestRepeatedPlatform(t *testing.T) {
	src, dst := plainRegistry(t), copyDestRegistry(t)
	srcRepo, dstRepo := testRepo(t, "src"), testRepo(t, "dst")
	list := pushCopySource(t, src, srcRepo, "v1", harness.ImageOptions{OCI: true}, harness.ListOptions{OCI: true}, copyPlatforms...)
	e := newEnv(t)
	from := src.Ref(srcRepo + ":v1")

	t.Run("copy", func(t *testing.T) {
		d := mustCopy(t, e, "--platform", "linux/amd64", "--platform", "linux/arm64", from, dst.Ref(dstRepo+":two"))
		m, ix := dst.MustGetIndex(t, dstRepo, "two")
		if m.Digest != d {
			t.Errorf("copy printed %s, the destination holds %s", d, m.Digest)
		}
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
			t.Errorf("destination platforms %v, want %v", got, want)
		}
		checkCopied(t, src, srcRepo, dst, dstRepo, ix)
		// Repeated and comma-separated add up, through the alias too.
		d = mustCopy(t, e, "--platforms", "linux/s390x", "--platform", "linux/amd64,linux/arm/v7", from, dst.Ref(dstRepo+":three"))
		_, ix = dst.MustGetIndex(t, dstRepo, "three")
		if got, want := ix.Platforms(), []string{"linux/amd64", "linux/arm/v7", "linux/s390x"}; !slices.Equal(got, want) {
			t.Errorf("destination platforms %v, want %v", got, want)
		}
		if d == list.Digest {
			t.Errorf("a 3-platform subset has the source's digest")
		}
	})

	t.Run("copy refuses a platform given twice", func(t *testing.T) {
		repo := testRepo(t, "dst")
		mark := dst.Mark()
		r := e.mlistFails(t, `linux/arm64 is listed twice`, "copy", "--platform", "linux/arm64,linux/amd64", "--platform", "linux/arm64", from, dst.Ref(repo+":dup"))
		if r.Stdout != "" || strings.Count(strings.TrimRight(r.Stderr, "\n"), "\n") != 0 {
			t.Errorf("want one line on stderr and nothing on stdout; got %q / %q", r.Stdout, r.Stderr)
		}
		if n := len(dst.RequestsSince(mark)); n != 0 {
			t.Errorf("a refused --platform made %d requests to the destination", n)
		}
	})

	t.Run("merge", func(t *testing.T) {
		mreg := plainRegistry(t)
		mDst, mSrc := testRepo(t, "app"), testRepo(t, "ci")
		f := pushMergeFixture(t, mreg, mreg, mDst, mSrc, harness.ListOptions{OCI: true})
		printed := mergeStdoutDigest(t, e.mustMlist(t, "merge", "-q", "--platforms", "linux/amd64", "--platforms", "linux/arm64", f.srcRef(), f.dstRef()))
		m, ix := mreg.MustGetIndex(t, mDst, "v1")
		if printed != m.Digest {
			t.Errorf("printed %s, tag is %s", printed, m.Digest)
		}
		checkMergeImages(t, ix, map[string]string{
			"linux/amd64":  f.srcImgs["linux/amd64"].Digest,
			"linux/arm64":  f.srcImgs["linux/arm64"].Digest,
			"linux/arm/v7": f.dstImgs["linux/arm/v7"].Digest,
			"linux/s390x":  f.dstImgs["linux/s390x"].Digest,
		})
	})
}

// Issue 19 item 1: -f/--format takes one set of values in every command;
// anything else is refused naming them.
func TestFormatVocabulary(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	list := pushCopySource(t, reg, repo, "v1", harness.ImageOptions{}, harness.ListOptions{}, "linux/amd64", "linux/arm64")
	ref := reg.Ref(repo + ":v1")
	e := newEnv(t)

	for _, args := range [][]string{
		{"inspect", "--format", "yaml", ref},
		{"inspect", "-f", "yaml", ref},
		{"verify", "-f", "yaml", ref},
		{"diff", "--format", "yaml", ref, ref},
		{"copy", "--dry-run", "-f", "yaml", ref, reg.Ref(repo + ":v2")},
		{"merge", "--dry-run", "-f", "yaml", ref, ref},
		{"tags", "-f", "yaml", reg.Ref(repo)},
		{"ls", "-f", "yaml"},
	} {
		mark := reg.Mark()
		r := e.mlistFails(t, `^invalid --format "yaml": accepted: table, json, or a Go template such as '\{\{json \.\}\}'\n$`, args...)
		if r.Stdout != "" {
			t.Errorf("%s printed %q", strings.Join(args, " "), r.Stdout)
		}
		if n := len(reg.RequestsSince(mark)); n != 0 {
			t.Errorf("%s made %d requests before refusing the format", strings.Join(args, " "), n)
		}
	}

	// In the commands that print a digest, --format is for the plan only.
	for _, args := range [][]string{
		{"copy", "-f", "json", ref, reg.Ref(repo + ":v3")},
		{"merge", "--format", "table", ref, reg.Ref(repo + ":v1")},
		{"push", "-f", "json", ref},
	} {
		mark := reg.Mark()
		e.mlistFails(t, `^--format goes with --dry-run\n$`, args...)
		if n := len(reg.RequestsSince(mark)); n != 0 {
			t.Errorf("%s made %d requests", strings.Join(args, " "), n)
		}
	}

	// -f json is --format json.
	var ix harness.Index
	if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", "-f", "json", ref)), &ix); err != nil || len(ix.Manifests) != 2 {
		t.Errorf("inspect -f json: %v, %d entries", err, len(ix.Manifests))
	}
	// Templates, over what json prints, in the commands that took only
	// table or json before.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "-f", "{{.Digest}} {{.Entries}} {{len .Problems}}", ref}, list.Digest + " 2 0\n"},
		{[]string{"copy", "--dry-run", "-f", "{{.Digest}} {{.Kind}}", ref, reg.Ref(repo + ":v2")}, list.Digest + " list\n"},
		{[]string{"merge", "--dry-run", "-f", "{{.Digest}} {{len .Merge.Changes}}", ref, ref}, list.Digest + " 2\n"},
		{[]string{"diff", "-f", "{{.Equal}}", ref, ref}, "true\n"},
	} {
		if got := e.mustMlist(t, tc.args...); got != tc.want {
			t.Errorf("%s printed %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// Issue 19 item 1: typos get the closest command or flag.
func TestTypoSuggestions(t *testing.T) {
	e := newEnv(t)
	e.mlistFails(t, `^docker mlist: unknown command "craete" \(did you mean "create"\?\)`, "craete", "x")
	e.mlistFails(t, `^unknown flag: --fromat \(did you mean --format\?\)\n`, "inspect", "--fromat", "json", "x")
	r := e.mlistFails(t, `^unknown flag: --fromat \(did you mean --format\?\)\n`, "verify", "--fromat", "json", "x")
	if r.ExitCode != 2 {
		t.Errorf("verify with an unknown flag exited %d, want 2", r.ExitCode)
	}
	e.mlistFails(t, `^unknown flag: --platfrom \(did you mean --platform\?\)\n`, "copy", "--platfrom", "linux/amd64", "a", "b")
	e.mlistFails(t, `^unknown flag: --xyzzy\n`, "copy", "--xyzzy", "a", "b")
}

// Issue 19 item 1: -q on every command that writes a digest prints that
// digest alone, and nothing else on either stream.
func TestQuietPrintsDigestOnly(t *testing.T) {
	reg := copyDestRegistry(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
	list := reg.PushList(t, repo, "v1", imgs, harness.ListOptions{})
	e := newEnv(t)
	draft := reg.Ref(repo + ":draft")
	e.mustMlist(t, "create", draft, srcRef(reg, imgs[0]), srcRef(reg, imgs[1]))

	quiet := func(args ...string) string {
		t.Helper()
		r := e.mlist(args...)
		mustSucceed(t, r, strings.Join(args, " "))
		if !copyDigestRE.MatchString(r.Stdout) || r.Stderr != "" {
			t.Errorf("%s: stdout %q, stderr %q; want the digest alone and no stderr", strings.Join(args, " "), r.Stdout, r.Stderr)
		}
		return strings.TrimSpace(r.Stdout)
	}
	if d := quiet("copy", "-q", reg.Ref(repo+":v1"), reg.Ref(repo+":copied")); d != list.Digest {
		t.Errorf("copy -q printed %s, want %s", d, list.Digest)
	}
	if d := quiet("merge", "-q", "--target", reg.Ref(repo+":merged"), reg.Ref(repo+":v1"), reg.Ref(repo+":v1")); d != list.Digest {
		t.Errorf("merge -q printed %s, want %s", d, list.Digest)
	}
	pushed := quiet("push", "-q", draft)
	if got := reg.MustGetManifest(t, repo, "draft").Digest; got != pushed {
		t.Errorf("push -q printed %s, the tag holds %s", pushed, got)
	}
	if d := quiet("delete", "-q", "--force", reg.Ref(repo+":draft")); d != pushed {
		t.Errorf("delete -q printed %s, want %s", d, pushed)
	}
	if got := reg.GetManifest(t, repo, pushed); got.Status != 404 {
		t.Errorf("after delete -q, %s answers %d", pushed, got.Status)
	}
}
