package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// Issue 11: scripts call docker mlist, so a mistyped subcommand must fail
// (`docker manifest nosuch` exits 1), with one line naming it.
func TestUnknownSubcommand(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown":            {[]string{"nosuch"}, `docker mlist: unknown command "nosuch"; run 'docker mlist --help' for the list of commands`},
		"typo with a hint":   {[]string{"creat", "x"}, `docker mlist: unknown command "creat" (did you mean "create"?); run 'docker mlist --help' for the list of commands`},
		"escaped in message": {[]string{"no\x1b[31msuch"}, `docker mlist: unknown command "no\x1b[31msuch"; run 'docker mlist --help' for the list of commands`},
	} {
		t.Run(name, func(t *testing.T) {
			before := draftFiles(t, e)
			r := e.mlist(tc.args...)
			if r.ExitCode == 0 || r.ExitCode == -1 {
				t.Fatalf("exit %d, want a failure", r.ExitCode)
			}
			if got := strings.TrimRight(r.Stderr, "\n"); got != tc.want {
				t.Errorf("stderr:\n%q\nwant the one line\n%q", got, tc.want)
			}
			if r.Stdout != "" {
				t.Errorf("stdout %q, want nothing", r.Stdout)
			}
			if after := draftFiles(t, e); len(after) != len(before) {
				t.Errorf("drafts changed: %v -> %v", before, after)
			}
		})
	}
	// The bare command still shows the help and succeeds, as docker manifest does.
	if out := e.mustMlist(t); !strings.Contains(out, "Usage:  docker mlist") {
		t.Errorf("docker mlist without a command printed:\n%s", out)
	}
}

// The version stamped into the build is what `docker mlist version` and the
// plugin metadata (`docker info`'s plugin list) report.
func TestVersion(t *testing.T) {
	e := newEnv(t)
	out := e.mustMlist(t, "version")
	if !strings.HasPrefix(out, "docker-mlist 0.0.0-e2e (commit unknown, go") || strings.Count(out, "\n") != 1 {
		t.Errorf("docker mlist version printed %q, want one line for 0.0.0-e2e", out)
	}
	plugins := e.mustDocker(t, "info", "--format", `{{range .ClientInfo.Plugins}}{{.Name}}={{.Version}}{{"\n"}}{{end}}`)
	if !slices.Contains(strings.Split(plugins, "\n"), "mlist=0.0.0-e2e") {
		t.Errorf("docker info lists the plugins\n%s\nwant mlist=0.0.0-e2e", plugins)
	}
}

// complete runs `docker __complete mlist args...` (what bash, zsh and fish
// completion scripts of docker run) and returns the candidates and the
// directive line.
func complete(t *testing.T, e *env, args ...string) ([]string, string) {
	t.Helper()
	out := e.mustDocker(t, append([]string{"__complete", "mlist"}, args...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("docker __complete printed no directive line:\n%s", out)
	}
	return lines[:len(lines)-1], last
}

// noFileComp is cobra's ShellCompDirectiveNoFileComp.
const noFileComp = ":4"

func TestCompletion(t *testing.T) {
	reg := plainRegistry(t)
	e := newEnv(t)
	repo := testRepo(t, "app")
	amd := reg.PushImage(t, repo, "amd64", "linux/amd64", harness.ImageOptions{})
	arm := reg.PushImage(t, repo, "arm", "linux/arm/v7", harness.ImageOptions{})
	list, other := reg.Ref(repo+":1.0"), reg.Ref(repo+":2.0")
	e.mustMlist(t, "create", list, srcRef(reg, amd), srcRef(reg, arm))
	e.mustMlist(t, "create", other, srcRef(reg, amd))

	check := func(t *testing.T, want []string, directive string, args ...string) {
		t.Helper()
		got, dir := complete(t, e, args...)
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) || dir != directive {
			t.Errorf("docker __complete mlist %s:\n got  %q %s\n want %q %s", strings.Join(args, " "), got, dir, want, directive)
		}
	}
	hostPrefix := reg.Host[:len(reg.Host)-2]
	t.Run("draft names as references", func(t *testing.T) {
		check(t, []string{list, other}, noFileComp, "annotate", "")
		check(t, []string{list, other}, noFileComp, "push", hostPrefix)
		check(t, []string{list}, noFileComp, "inspect", reg.Ref(repo+":1"))
		check(t, nil, noFileComp, "push", list, "")
	})
	t.Run("rm offers the drafts not named yet", func(t *testing.T) {
		check(t, []string{other}, noFileComp, "rm", list, "")
	})
	t.Run("entries of the draft for annotate", func(t *testing.T) {
		check(t, []string{srcRef(reg, amd) + "\tlinux/amd64", srcRef(reg, arm) + "\tlinux/arm/v7"}, noFileComp, "annotate", list, "")
		check(t, []string{srcRef(reg, amd) + "\tlinux/amd64"}, noFileComp, "annotate", other, "")
		check(t, nil, noFileComp, "annotate", list, srcRef(reg, amd), "")
		check(t, nil, noFileComp, "annotate", reg.Ref(repo+":nosuch"), "")
	})
	t.Run("platform lists", func(t *testing.T) {
		got, dir := complete(t, e, "copy", "--platform", "linux/amd64,linux/arm")
		want := []string{"linux/amd64,linux/arm64", "linux/amd64,linux/arm/v7", "linux/amd64,linux/arm/v6"}
		if !slices.Equal(got, want) || dir != ":6" { // NoFileComp|NoSpace: the list may go on
			t.Errorf("copy --platform: got %q %s, want %q :6", got, dir, want)
		}
		for _, flag := range []string{"--platform", "--platforms"} { // the hidden alias completes too
			got, _ = complete(t, e, "merge", flag, "linux/amd64,")
			if slices.Contains(got, "linux/amd64,linux/amd64") || !slices.Contains(got, "linux/amd64,windows/amd64") {
				t.Errorf("merge %s linux/amd64,: %q", flag, got)
			}
			got, _ = complete(t, e, "create", flag, "")
			if !slices.Contains(got, "linux/riscv64") {
				t.Errorf("create %s: %q", flag, got)
			}
		}
	})
	t.Run("fixed flag values", func(t *testing.T) {
		check(t, []string{"json", "table"}, noFileComp, "inspect", "--format", "")
		// Every command accepts the same formats (verify took only json
		// before), and the completion offers them, by the short flag too.
		for _, cmd := range []string{"tags", "verify", "diff", "copy", "merge", "push", "ls"} {
			check(t, []string{"json", "table"}, noFileComp, cmd, "--format", "")
			check(t, []string{"json", "table"}, noFileComp, cmd, "-f", "")
		}
		check(t, []string{"docker", "oci"}, noFileComp, "create", "--media-type", "")
		check(t, []string{"docker", "oci"}, noFileComp, "copy", "--media-type", "")
		check(t, []string{"platform", "arch"}, noFileComp, "merge", "--match", "")
		check(t, []string{"v5", "v6", "v7", "v8"}, noFileComp, "annotate", "--variant", "")
	})
	t.Run("copy locations and spec files", func(t *testing.T) {
		check(t, []string{"docker-archive:", "docker://", "oci-archive:", "oci:", list, other}, ":6", "copy", "")
		// merge SOURCE reads what copy SOURCE reads (drafts, layouts).
		check(t, []string{"docker-archive:", "docker://", "oci-archive:", "oci:", list, other}, ":6", "merge", "")
		got, dir := complete(t, e, "push", "--spec", "")
		if !slices.Equal(got, []string{"yaml", "yml"}) || dir != ":8" { // FilterFileExt
			t.Errorf("push --spec: got %q %s, want yaml, yml files", got, dir)
		}
		check(t, nil, noFileComp, "copy", "--jobs", "")
	})
	t.Run("subcommands", func(t *testing.T) {
		got, _ := complete(t, e, "")
		var names []string
		for _, c := range got {
			name, _, _ := strings.Cut(c, "\t")
			names = append(names, name)
		}
		for _, want := range []string{"annotate", "copy", "create", "merge", "push", "version"} {
			if !slices.Contains(names, want) {
				t.Errorf("subcommands %q lack %s", names, want)
			}
		}
	})
}
