package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

// TestHelpExamples runs every example of `docker mlist COMMAND --help`, as
// the built plugin prints it, through bash and the real docker CLI against
// real registries: the example hosts are rewritten to loopback registries,
// each command gets its own namespace in them, and its examples run in
// order in one Docker config, as a user reading the help would run them.
// What each command's examples need is prepared by exampleSetups, and what
// each example must leave behind is checked there: an example without a
// setup, or a setup whose steps no longer match the examples, fails the test.
func TestHelpExamples(t *testing.T) {
	reg := plainRegistry(t)
	mirror := sharedRegistry(t, "examples-mirror", harness.RegistryOptions{})
	examples := helpExamples(t, newEnv(t))
	for name := range exampleSetups {
		if _, ok := examples[name]; !ok {
			t.Errorf("exampleSetups has %q, whose help has no examples: remove it", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(examples)) {
		lines := examples[name]
		t.Run(name, func(t *testing.T) {
			setup, ok := exampleSetups[name]
			switch {
			case !ok:
				t.Fatalf("docker mlist %s --help has examples but exampleSetups has no entry for it:\n%s", name, strings.Join(lines, "\n"))
			case len(setup.steps) != len(lines):
				t.Fatalf("docker mlist %s --help has %d examples, exampleSetups has %d steps: give each example a step, in order:\n%s",
					name, len(lines), len(setup.steps), strings.Join(lines, "\n"))
			}
			x := &exampleRun{e: newEnv(t), reg: reg, mirror: mirror, ns: "examples-" + name, replace: map[string]string{}}
			if setup.prepare != nil {
				setup.prepare(t, x)
			}
			for i, line := range lines {
				script := x.rewrite(t, line)
				r := x.runExample(t, script)
				step := setup.steps[i]
				if r.ExitCode != step.exit {
					t.Fatalf("example %d: %s\nran: %s\nexit %d, want %d\nstderr:\n%s\nstdout:\n%s", i+1, line, script, r.ExitCode, step.exit, r.Stderr, r.Stdout)
				}
				if step.check != nil {
					step.check(t, x, r)
				}
			}
		})
	}
}

// helpExamples reads the commands from `docker mlist --help` and the
// examples of each from `docker mlist COMMAND --help`: one example per
// line, continuation lines (ending in \) joined.
func helpExamples(t *testing.T, e *env) map[string][]string {
	t.Helper()
	commands := helpSection(e.mustMlist(t, "--help"), "Commands:")
	if len(commands) == 0 {
		t.Fatal("docker mlist --help lists no commands")
	}
	out := map[string][]string{}
	for _, c := range commands {
		name, _, _ := strings.Cut(strings.TrimSpace(c), " ")
		var examples []string
		joined := ""
		for _, l := range helpSection(e.mustMlist(t, name, "--help"), "Examples:") {
			l = strings.TrimSpace(l)
			if cont, ok := strings.CutSuffix(l, `\`); ok {
				joined += cont
				continue
			}
			examples = append(examples, joined+l)
			joined = ""
		}
		if joined != "" {
			t.Fatalf("docker mlist %s --help: an example ends in a continuation: %s", name, joined)
		}
		if len(examples) > 0 {
			out[name] = examples
		}
	}
	return out
}

// helpSection returns the lines of help below the heading, up to the first
// blank line.
func helpSection(help, heading string) []string {
	_, rest, ok := strings.Cut(help, "\n"+heading+"\n")
	if !ok {
		return nil
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		if strings.TrimSpace(l) == "" {
			break
		}
		out = append(out, l)
	}
	return out
}

// exampleRun is one command's examples being run: the env whose Docker
// config holds the drafts, and the registries the example hosts mean.
type exampleRun struct {
	e           *env
	reg, mirror *harness.Registry
	ns          string // the command's namespace in both registries
	// replace maps placeholders of the examples (a digest written as
	// sha256:4f...) to the values the setup made.
	replace map[string]string
}

// exampleHostRE finds the hosts examples use (registry.example.com,
// mirror.example.com); a host not in exampleHosts fails the test.
var exampleHostRE = regexp.MustCompile(`\b[a-z0-9-]+\.example\.com\b`)

// rewrite turns an example into the script that runs it: the example hosts
// become the loopback registries (with the command's namespace), and the
// setup's placeholders their values.
func (x *exampleRun) rewrite(t *testing.T, line string) string {
	t.Helper()
	hosts := map[string]*harness.Registry{"registry.example.com": x.reg, "mirror.example.com": x.mirror}
	script := exampleHostRE.ReplaceAllStringFunc(line, func(h string) string {
		r, ok := hosts[h]
		if !ok {
			t.Fatalf("example uses host %s, which TestHelpExamples does not map to a registry: %s", h, line)
		}
		return r.Host + "/" + x.ns
	})
	for from, to := range x.replace {
		script = strings.ReplaceAll(script, from, to)
	}
	if strings.Contains(script, "...") {
		t.Fatalf("example has a placeholder its setup does not fill: %s", line)
	}
	return script
}

// exampleResult is what an example printed, and the variables it set
// (digest=$(...)).
type exampleResult struct {
	result
	vars map[string]string
}

// assignmentRE finds the shell variables an example sets from a command.
var assignmentRE = regexp.MustCompile(`(?:^|[;&|]\s*)([A-Za-z_][A-Za-z0-9_]*)=\$\(`)

const varsMarker = "--- example variables ---"

// runExample runs script under bash, with pipefail so that a failing
// command before a pipe fails the example, in the env's directory (where
// files the examples name are read and written); the variables it assigns
// are printed after it and returned.
func (x *exampleRun) runExample(t *testing.T, script string) exampleResult {
	t.Helper()
	full := "set -eo pipefail\n" + script + "\n"
	names := assignmentRE.FindAllStringSubmatch(script, -1)
	if len(names) > 0 {
		full += "echo '" + varsMarker + "'\n"
		for _, n := range names {
			full += `printf '%s=%s\n' ` + n[1] + ` "$` + n[1] + `"` + "\n"
		}
	}
	r := exampleResult{result: x.e.run("", "bash", "-c", full), vars: map[string]string{}}
	if out, vars, ok := strings.Cut(r.Stdout, varsMarker+"\n"); ok {
		r.Stdout = out
		for _, l := range strings.Split(strings.TrimSpace(vars), "\n") {
			k, v, _ := strings.Cut(l, "=")
			r.vars[k] = v
		}
	}
	recordOutput([]byte(r.Stdout), []byte(r.Stderr)) // for checkNoSecrets
	return r
}

// repo is the command's repository name in the registries ("app").
func (x *exampleRun) repo(name string) string { return x.ns + "/" + name }

// ref is the reference an example writes as registry.example.com/<s>.
func (x *exampleRun) ref(s string) string { return x.reg.Ref(x.ns + "/" + s) }

// mustMlist runs `docker mlist args...` in the example's env.
func (x *exampleRun) mustMlist(t *testing.T, args ...string) string {
	t.Helper()
	return x.e.mustMlist(t, args...)
}

// pushList pushes one image per platform, tagged <tag>-<os>-<arch>[-<variant>],
// and the list of them as app:<tag>.
func (x *exampleRun) pushList(t *testing.T, tag string, platforms ...string) harness.List {
	t.Helper()
	images := x.reg.PushImages(t, x.repo("app"), tag, harness.ImageOptions{}, platforms...)
	return x.reg.PushList(t, x.repo("app"), tag, images, harness.ListOptions{})
}

// registryIndex is the list the registry holds as app:<tag>.
func (x *exampleRun) registryIndex(t *testing.T, r *harness.Registry, tag string) (harness.Manifest, harness.Index) {
	t.Helper()
	return r.MustGetIndex(t, x.repo("app"), tag)
}

// registryDigest is the digest r holds as app:<tag>, a list's or an
// image's.
func (x *exampleRun) registryDigest(t *testing.T, r *harness.Registry, tag string) string {
	t.Helper()
	return r.MustGetManifest(t, x.repo("app"), tag).Digest
}

// draftIndex is the list a draft builds, as inspect shows it.
func (x *exampleRun) draftIndex(t *testing.T, name string) harness.Index {
	t.Helper()
	var ix harness.Index
	if err := json.Unmarshal([]byte(x.mustMlist(t, "inspect", "--format", "json", name)), &ix); err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return ix
}

func wantPlatforms(t *testing.T, what string, ix harness.Index, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(ix.Platforms()))
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", what, got, want)
	}
}

func wantJSON(t *testing.T, r exampleResult) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.Stdout)
	}
	return v
}

func wantStdout(t *testing.T, r exampleResult, want string) {
	t.Helper()
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
	}
}

// exampleStep is what one example must do: exit with exit (diff and verify
// exit 1 for "differ" and "problems"), and pass check.
type exampleStep struct {
	exit  int
	check func(t *testing.T, x *exampleRun, r exampleResult)
}

// exampleSetup prepares what a command's examples need, and checks each.
type exampleSetup struct {
	prepare func(t *testing.T, x *exampleRun)
	steps   []exampleStep
}

var exampleSetups = map[string]exampleSetup{
	"annotate": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.reg.PushImage(t, x.repo("app"), "1.0-arm", "linux/arm", harness.ImageOptions{})
			x.reg.PushImage(t, x.repo("app"), "1.0-windows", "windows/amd64", harness.ImageOptions{})
			x.reg.PushImage(t, x.repo("app"), "1.0-amd64", "linux/amd64", harness.ImageOptions{})
			// An OCI index: a Docker list cannot carry annotations.
			x.mustMlist(t, "create", "--media-type", "oci", x.ref("app:1.0"),
				x.ref("app:1.0-arm"), x.ref("app:1.0-windows"), x.ref("app:1.0-amd64"))
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				wantPlatforms(t, "the draft", x.draftIndex(t, x.ref("app:1.0")), "linux/arm/v7", "windows/amd64", "linux/amd64")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				d, _ := x.draftIndex(t, x.ref("app:1.0")).ForPlatform("windows/amd64")
				if d.Platform.OSVersion != "10.0.17763.5329" {
					t.Errorf("windows/amd64 has os.version %q", d.Platform.OSVersion)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				ix := x.draftIndex(t, x.ref("app:1.0"))
				d, _ := ix.ForPlatform("linux/amd64")
				if d.Annotations["org.opencontainers.image.source"] != "https://example.com/app" || ix.Annotations["org.opencontainers.image.version"] != "1.0" {
					t.Errorf("annotations: entry %v, list %v", d.Annotations, ix.Annotations)
				}
			}},
		},
	},
	"copy": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64", "linux/arm/v7")
			// app:2.0-rc is a local draft, not pushed.
			x.mustMlist(t, "create", x.ref("app:2.0-rc"), x.ref("app:1.0"))
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				src, _ := x.registryIndex(t, x.reg, "1.0")
				dst, _ := x.registryIndex(t, x.mirror, "1.0")
				if dst.Digest != src.Digest {
					t.Errorf("the mirror holds %s, the source %s", dst.Digest, src.Digest)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				_, ix := x.registryIndex(t, x.mirror, "1.0-slim")
				wantPlatforms(t, "the mirror's 1.0-slim", ix, "linux/amd64", "linux/arm64")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantJSON(t, r) }},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if _, err := os.Stat(filepath.Join(x.e.Dir, "app-1.0.tar")); err != nil {
					t.Error(err)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				src, _ := x.registryIndex(t, x.reg, "1.0")
				for _, tag := range []string{"1.0", "1", "latest"} {
					if dst, _ := x.registryIndex(t, x.mirror, tag); dst.Digest != src.Digest {
						t.Errorf("the mirror's %s is %s, the source %s", tag, dst.Digest, src.Digest)
					}
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				draft := sha256Of(x.mustMlist(t, "inspect", "--raw", x.ref("app:2.0-rc")))
				if got := sha256Of(x.mustMlist(t, "inspect", "--raw", "oci:"+filepath.Join(x.e.Dir, "app-layout")+":2.0-rc")); got != draft {
					t.Errorf("the layout holds %s, the draft is %s", got, draft)
				}
				harness.Validate(t, "oci:"+filepath.Join(x.e.Dir, "app-layout")+":2.0-rc")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				for _, tag := range x.reg.Tags(t, x.repo("app")) {
					src := x.registryDigest(t, x.reg, tag)
					if dst := x.registryDigest(t, x.mirror, tag); dst != src {
						t.Errorf("the mirror's %s is %s, the source's %s", tag, dst, src)
					}
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				raw, err := os.ReadFile(filepath.Join(x.e.Dir, "app-tags", "index.json"))
				if err != nil {
					t.Fatal(err)
				}
				for tag, want := range map[string]bool{"1.0": true, "1.0-linux-amd64": true, "1.0-linux-arm64": false} {
					if got := strings.Contains(string(raw), `"org.opencontainers.image.ref.name":"`+tag+`"`); got != want {
						t.Errorf("index.json names %s: %v, want %v\n%s", tag, got, want, raw)
					}
				}
			}},
		},
	},
	"create": {
		prepare: func(t *testing.T, x *exampleRun) {
			for _, p := range []string{"amd64", "arm64", "riscv64"} {
				x.reg.PushImage(t, x.repo("app"), "1.0-"+p, "linux/"+p, harness.ImageOptions{})
			}
			x.reg.PushImages(t, x.repo("app"), "1.1", harness.ImageOptions{}, "linux/amd64", "linux/arm64", "linux/arm/v7")
			x.pushList(t, "latest", "linux/amd64", "linux/arm64")
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				wantPlatforms(t, "the draft", x.draftIndex(t, x.ref("app:1.0")), "linux/amd64", "linux/arm64")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				wantPlatforms(t, "the draft", x.draftIndex(t, x.ref("app:1.0")), "linux/amd64", "linux/arm64", "linux/riscv64")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				wantPlatforms(t, "the draft", x.draftIndex(t, x.ref("app:1.1")), "linux/amd64", "linux/arm64", "linux/arm/v7")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				latest, _ := x.registryIndex(t, x.reg, "latest")
				if raw := x.mustMlist(t, "inspect", "--raw", x.ref("app:1.2")); harness.Digest([]byte(raw)) != latest.Digest {
					t.Errorf("the draft is not the list latest holds, byte for byte:\n%s", raw)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, ix := x.registryIndex(t, x.reg, "1.0")
				wantPlatforms(t, "app:1.0", ix, "linux/amd64", "linux/arm64")
				if latest, _ := x.registryIndex(t, x.reg, "latest"); latest.Digest != m.Digest {
					t.Errorf("latest is %s, app:1.0 %s", latest.Digest, m.Digest)
				}
				if ls := strings.Fields(x.mustMlist(t, "ls", "-q")); len(ls) != 3 {
					t.Errorf("create --push changed the drafts: %q", ls)
				}
			}},
		},
	},
	"delete": {
		prepare: func(t *testing.T, x *exampleRun) {
			img := x.reg.PushImage(t, x.repo("app"), "", "linux/amd64", harness.ImageOptions{})
			x.replace["sha256:4f..."] = img.Digest
			x.reg.PushImage(t, x.repo("app"), "old", "linux/amd64", harness.ImageOptions{})
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if m := x.reg.GetManifest(t, x.repo("app"), x.replace["sha256:4f..."]); m.Status != 404 {
					t.Errorf("the manifest answers %d after delete", m.Status)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if m := x.reg.GetManifest(t, x.repo("app"), "old"); m.Status != 404 {
					t.Errorf("app:old answers %d after delete", m.Status)
				}
			}},
		},
	},
	"diff": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64")
			x.pushList(t, "1.1", "linux/amd64", "linux/arm64", "linux/riscv64")
			x.mustMlist(t, "create", "--from", x.ref("app:1.0"))
		},
		steps: []exampleStep{
			// The draft is what the tag holds: pushing it changes nothing.
			{},
			{exit: 1, check: func(t *testing.T, x *exampleRun, r exampleResult) { wantStdout(t, r, "linux/riscv64") }},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if v := wantJSON(t, r); v["equal"] != true {
					t.Errorf("the registry's list and its unchanged draft differ:\n%s", r.Stdout)
				}
			}},
		},
	},
	"drop": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le")
		},
		steps: []exampleStep{
			{},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				wantPlatforms(t, "the draft", x.draftIndex(t, x.ref("app:1.0")), "linux/amd64", "linux/arm64")
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, ix := x.registryIndex(t, x.reg, "1.0")
				wantPlatforms(t, "app:1.0", ix, "linux/amd64", "linux/arm64")
				wantStdout(t, r, m.Digest)
			}},
		},
	},
	"inspect": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64")
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantJSON(t, r) }},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, _ := x.registryIndex(t, x.reg, "1.0")
				if got := strings.TrimSpace(r.Stdout); got != strings.TrimPrefix(m.Digest, "sha256:")+"  -" {
					t.Errorf("sha256sum of --raw is %q, the list is %s", got, m.Digest)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantStdout(t, r, "linux/arm64") }},
		},
	},
	"ls": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.reg.PushImage(t, x.repo("app"), "1.0-amd64", "linux/amd64", harness.ImageOptions{})
			x.mustMlist(t, "create", x.ref("app:1.0"), x.ref("app:1.0-amd64"))
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantStdout(t, r, x.ref("app:1.0")) }},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if got, want := strings.TrimSpace(r.Stdout), x.ref("app:1.0")+" 1"; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			}},
		},
	},
	"merge": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64", "linux/s390x")
			x.pushList(t, "build-42", "linux/amd64", "linux/arm64")
			x.pushList(t, "build-43", "linux/riscv64")
			x.mustMlist(t, "copy", x.ref("app:build-43"), "oci:"+filepath.Join(x.e.Dir, "app-layout")+":build-43")
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				_, build := x.registryIndex(t, x.reg, "build-42")
				_, merged := x.registryIndex(t, x.reg, "1.0")
				wantPlatforms(t, "app:1.0", merged, "linux/amd64", "linux/arm64", "linux/s390x")
				for _, p := range []string{"linux/amd64", "linux/arm64"} {
					want, _ := build.ForPlatform(p)
					if got, _ := merged.ForPlatform(p); got.Digest != want.Digest {
						t.Errorf("app:1.0 %s is %s, build-42's is %s", p, got.Digest, want.Digest)
					}
				}
			}},
			{},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, _ := x.registryIndex(t, x.reg, "1.0")
				target, _ := x.registryIndex(t, x.reg, "1.1")
				if target.Digest != m.Digest {
					t.Errorf("app:1.1 is %s, want the merge of the same lists, %s", target.Digest, m.Digest)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, _ := x.registryIndex(t, x.reg, "1.0")
				if latest, _ := x.registryIndex(t, x.reg, "latest"); latest.Digest != m.Digest {
					t.Errorf("latest is %s, app:1.0 %s", latest.Digest, m.Digest)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				_, merged := x.registryIndex(t, x.reg, "1.0")
				wantPlatforms(t, "app:1.0", merged, "linux/amd64", "linux/arm64", "linux/s390x", "linux/riscv64")
				x.reg.Validate(t, x.repo("app")+":1.0")
			}},
		},
	},
	"push": {
		prepare: func(t *testing.T, x *exampleRun) {
			images := x.reg.PushImages(t, x.repo("app"), "1.0", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
			args := []string{"create", x.ref("app:1.0")}
			for _, img := range images {
				args = append(args, srcRef(x.reg, img))
			}
			x.mustMlist(t, args...)
			spec := "image: " + x.ref("app:2.0") + "\ntags: [latest]\nmanifests:\n" +
				"  - image: " + srcRef(x.reg, images[0]) + "\n    platform: {os: linux, architecture: amd64}\n" +
				"  - image: " + srcRef(x.reg, images[1]) + "\n    platform: {os: linux, architecture: arm64}\n"
			if err := os.WriteFile(filepath.Join(x.e.Dir, "release.yaml"), []byte(spec), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if m := x.reg.GetManifest(t, x.repo("app"), "1.0"); m.Status != 404 {
					t.Errorf("--dry-run wrote app:1.0 (status %d)", m.Status)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, _ := x.registryIndex(t, x.reg, "1.0")
				for _, ref := range [][2]string{{x.repo("app"), "latest"}, {x.repo("release"), "1.0"}} {
					if got := x.reg.MustGetManifest(t, ref[0], ref[1]).Digest; got != m.Digest {
						t.Errorf("%s:%s is %s, app:1.0 %s", ref[0], ref[1], got, m.Digest)
					}
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, _ := x.registryIndex(t, x.reg, "1.0")
				if r.vars["digest"] != m.Digest {
					t.Errorf("digest=%q, app:1.0 is %s", r.vars["digest"], m.Digest)
				}
				if ls := x.mustMlist(t, "ls", "-q"); strings.TrimSpace(ls) != "" {
					t.Errorf("--purge left drafts: %s", ls)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				m, ix := x.registryIndex(t, x.reg, "2.0")
				wantPlatforms(t, "app:2.0", ix, "linux/amd64", "linux/arm64")
				if latest, _ := x.registryIndex(t, x.reg, "latest"); latest.Digest != m.Digest {
					t.Errorf("latest is %s, app:2.0 %s", latest.Digest, m.Digest)
				}
			}},
		},
	},
	"rm": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.reg.PushImage(t, x.repo("app"), "1.0-amd64", "linux/amd64", harness.ImageOptions{})
			x.mustMlist(t, "create", x.ref("app:1.0"), x.ref("app:1.0-amd64"))
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if ls := x.mustMlist(t, "ls", "-q"); strings.TrimSpace(ls) != "" {
					t.Errorf("rm left drafts: %s", ls)
				}
			}},
		},
	},
	"tags": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.reg.PushImage(t, x.repo("app"), "1.0", "linux/amd64", harness.ImageOptions{})
		},
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) {
				if got := strings.TrimSpace(r.Stdout); got != "1.0" {
					t.Errorf("got %q, want 1.0", got)
				}
			}},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantStdout(t, r, `"1.0"`) }},
		},
	},
	"verify": {
		prepare: func(t *testing.T, x *exampleRun) {
			x.pushList(t, "1.0", "linux/amd64", "linux/arm64")
		},
		steps: []exampleStep{
			{},
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantJSON(t, r) }},
		},
	},
	"version": {
		steps: []exampleStep{
			{check: func(t *testing.T, x *exampleRun, r exampleResult) { wantStdout(t, r, "docker-mlist ") }},
		},
	},
}
