package plugin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker/cli/cli/command"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// The commands that write through a plan (push, merge, copy), run against
// the test registry: what the registry holds afterwards, that a dry run
// writes nothing, and that the requests its JSON plan announces are the
// requests the real run makes.

// writes are the logged requests of s that change something.
func writes(s *registrystub.Stub) []string {
	var out []string
	for _, r := range s.Log() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r.String())
		}
	}
	return out
}

// wantNoWrites fails t when s logged a write: what did one (a refused
// command, a run with nothing to do) must not have.
func wantNoWrites(t *testing.T, s *registrystub.Stub, what string) {
	t.Helper()
	if w := writes(s); len(w) > 0 {
		t.Errorf("%s wrote:\n%s", what, strings.Join(w, "\n"))
	}
}

// dryRunThenRun runs args with --dry-run --format json, checks it wrote
// nothing, then runs args for real and checks the plan's requests are the
// requests the registry counted. It returns the real run's stdout.
func dryRunThenRun(t *testing.T, c *testCLI, s *registrystub.Stub, newCmd func(command.Cli) *cobra.Command, args ...string) string {
	t.Helper()
	s.ResetLog()
	out := c.mustRun(t, newCmd, append([]string{"--dry-run", "--format", "json"}, args...)...)
	var plan struct {
		Requests int `json:"requests"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("--dry-run --format json printed no plan: %v\n%s", err, out)
	}
	if w := writes(s); len(w) > 0 {
		t.Fatalf("the dry run wrote:\n%s", strings.Join(w, "\n"))
	}
	s.ResetLog()
	out = c.mustRun(t, newCmd, args...)
	t.Logf("%v: %d requests planned", args, plan.Requests)
	if got := s.Log(); len(got) != plan.Requests {
		t.Errorf("the plan said %d requests, the run made %d:\n%s", plan.Requests, len(got), strings.Join(s.Requests(), "\n"))
	}
	return out
}

// printedDigest is the digest a command printed as its last stdout line.
func printedDigest(t *testing.T, out string) digest.Digest {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	d, err := digest.Parse(lines[len(lines)-1])
	if err != nil {
		t.Fatalf("no digest printed: %q", out)
	}
	return d
}

// holds fails unless s holds, under repo:tag, the manifest of digest d.
func holds(t *testing.T, s *registrystub.Stub, repo, tag string, d digest.Digest) {
	t.Helper()
	raw, ok := s.Manifest(repo, tag)
	if !ok {
		t.Fatalf("%s:%s not in the registry", repo, tag)
	}
	if got := digest.FromBytes(raw); got != d {
		t.Errorf("%s:%s holds %s, want %s", repo, tag, got, d)
	}
}

// TestPushCommand pushes a draft into its own repository and into another
// one (entries brought by mount): the registry holds the list under the
// printed digest, the dry run's requests are the run's, and a second push
// writes nothing.
func TestPushCommand(t *testing.T) {
	for name, repo := range map[string]string{"same repository": "app", "another repository": "other"} {
		t.Run(name, func(t *testing.T) {
			s := registrystub.Start(t, registrystub.Options{})
			amd := putImage(s, "app", "amd64", "linux/amd64")
			arm := putImage(s, "app", "arm64", "linux/arm64/v8")
			list := s.Host + "/" + repo + ":v1"
			c := newTestCLI(t)
			saveDraft(t, list, "oci", amd, arm)

			d := printedDigest(t, dryRunThenRun(t, c, s, newPushCommand, list))
			holds(t, s, repo, "v1", d)
			for _, im := range []image{amd, arm} {
				if _, ok := s.Manifest(repo, im.digest.String()); !ok {
					t.Errorf("entry %s not in %s", im.digest, repo)
				}
			}

			s.ResetLog()
			if again := printedDigest(t, c.mustRun(t, newPushCommand, list)); again != d {
				t.Errorf("the second push printed %s, want %s", again, d)
			}
			wantNoWrites(t, s, "pushing what the tag holds")
		})
	}
	t.Run("no such draft", func(t *testing.T) {
		s := registrystub.Start(t, registrystub.Options{})
		c := newTestCLI(t)
		wantError(t, c.run(newPushCommand, s.Host+"/app:nosuch"), "app:nosuch", "create")
		wantNoWrites(t, s, "a refused push")
	})
}

// TestMergeCommand merges a list with a new amd64 image into one with an
// old amd64 and an arm64: the tag gets the new amd64 beside the kept arm64,
// under the printed digest, in the requests the dry run announced.
func TestMergeCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	oldAmd := putImage(s, "app", "old-amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	newAmd := putImage(s, "app", "new-amd64", "linux/amd64")
	dest := putIndex(s, "app", "v1", oldAmd, arm)
	src := putIndex(s, "app", "build", newAmd)
	c := newTestCLI(t)

	d := printedDigest(t, dryRunThenRun(t, c, s, newMergeCommand, src.ref, dest.ref))
	holds(t, s, "app", "v1", d)
	raw, _ := s.Manifest("app", "v1")
	var got struct {
		Manifests []struct {
			Digest digest.Digest `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var entries []digest.Digest
	for _, m := range got.Manifests {
		entries = append(entries, m.Digest)
	}
	if len(entries) != 2 || !containsDigest(entries, newAmd.digest) || !containsDigest(entries, arm.digest) {
		t.Errorf("the merged list holds %v, want the new amd64 %s and the arm64 %s", entries, newAmd.digest, arm.digest)
	}

	s.ResetLog()
	c.mustRun(t, newMergeCommand, src.ref, dest.ref)
	wantNoWrites(t, s, "merging into a list that holds the result")
}

func containsDigest(ds []digest.Digest, d digest.Digest) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// TestCopyCommand copies a list within the test registry: the destination
// holds the source's digest, printed, in the requests the dry run
// announced; a bad destination is refused by name and nothing is written.
func TestCopyCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	src := putIndex(s, "app", "v1", amd, arm)
	c := newTestCLI(t)

	d := printedDigest(t, dryRunThenRun(t, c, s, newCopyCommand, src.ref, s.Host+"/mirror:v1"))
	if d != src.digest {
		t.Errorf("copy printed %s, want the source's %s", d, src.digest)
	}
	holds(t, s, "mirror", "v1", src.digest)

	for name, bad := range map[string]string{
		"an upper-case repository": s.Host + "/Mirror:v1",
		"an empty layout path":     "oci::v1",
	} {
		t.Run(name, func(t *testing.T) {
			s.ResetLog()
			wantError(t, c.run(newCopyCommand, src.ref, bad), bad, "accepted")
			wantNoWrites(t, s, "a refused copy")
		})
	}
}
