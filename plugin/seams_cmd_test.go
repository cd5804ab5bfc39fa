package plugin

import (
	"regexp"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

// TestSummaryCountsWhatThePlanSaid runs push and copy with extra tags: the
// run's summary counts each manifest written once, as the dry run's plan
// does, however many tags it is put under (the tags have their own lines),
// and says each manifest's "written to" line once.
func TestSummaryCountsWhatThePlanSaid(t *testing.T) {
	planned := regexp.MustCompile(`Plan: (\d+ manifests?) to write`)
	ran := regexp.MustCompile(`: (\d+ manifests?) written`)
	for name, tc := range map[string]struct {
		newCmd func(c *testCLI, s *registrystub.Stub) []string
		run    func(*testCLI, ...string) error
	}{
		"push -t": {newCmd: func(c *testCLI, s *registrystub.Stub) []string {
			amd := putImage(s, "app", "amd64", "linux/amd64")
			arm := putImage(s, "app", "arm64", "linux/arm64/v8")
			list := s.Host + "/app:v1"
			saveDraft(t, list, "oci", amd, arm)
			return []string{list, "-t", "latest", "-t", "v1.0"}
		}, run: func(c *testCLI, args ...string) error { return c.run(newPushCommand, args...) }},
		"push -t into another repository": {newCmd: func(c *testCLI, s *registrystub.Stub) []string {
			amd := putImage(s, "app", "amd64", "linux/amd64")
			arm := putImage(s, "app", "arm64", "linux/arm64/v8")
			list := s.Host + "/app:v1"
			saveDraft(t, list, "oci", amd, arm)
			return []string{list, "-t", "latest", "-t", s.Host + "/other:v1"}
		}, run: func(c *testCLI, args ...string) error { return c.run(newPushCommand, args...) }},
		"copy -t": {newCmd: func(c *testCLI, s *registrystub.Stub) []string {
			amd := putImage(s, "app", "amd64", "linux/amd64")
			arm := putImage(s, "app", "arm64", "linux/arm64/v8")
			src := putIndex(s, "app", "v1", amd, arm)
			return []string{src.ref, s.Host + "/mirror:v1", "-t", "latest", "-t", "v1.0"}
		}, run: func(c *testCLI, args ...string) error { return c.run(newCopyCommand, args...) }},
	} {
		t.Run(name, func(t *testing.T) {
			s := registrystub.Start(t, registrystub.Options{})
			c := newTestCLI(t)
			args := tc.newCmd(c, s)
			if err := tc.run(c, append([]string{"--dry-run"}, args...)...); err != nil {
				t.Fatalf("dry run: %v\n%s", err, c.err)
			}
			plan := planned.FindStringSubmatch(c.out.String())
			if plan == nil {
				t.Fatalf("the dry run says no manifests to write:\n%s", c.out)
			}
			if err := tc.run(c, args...); err != nil {
				t.Fatalf("run: %v\n%s", err, c.err)
			}
			summary := ran.FindStringSubmatch(c.err.String())
			if summary == nil || summary[1] != plan[1] {
				t.Errorf("the plan said %q to write, the run's summary says:\n%s", plan[1], c.err)
			}
			seen := map[string]bool{}
			for _, l := range strings.Split(c.err.String(), "\n") {
				if strings.Contains(l, " written to ") {
					if seen[l] {
						t.Errorf("said twice: %q", l)
					}
					seen[l] = true
				}
			}
		})
	}
}

// TestPlatformMissingSaidAlike: copy --platform and merge --platform
// select through one rule, and a platform the list lacks is refused in the
// same words, naming it and what the list has, before anything is written.
func TestPlatformMissingSaidAlike(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	src := putIndex(s, "app", "v1", amd, arm)
	dst := putIndex(s, "app", "v0", amd)
	c := newTestCLI(t)
	want := "no entry for platform linux/s390x; the list has linux/amd64, linux/arm64/v8"
	s.ResetLog()
	wantError(t, c.run(newCopyCommand, "--platform", "linux/s390x", src.ref, s.Host+"/mirror:v1"), want)
	wantError(t, c.run(newMergeCommand, "--platform", "linux/s390x", src.ref, dst.ref), want)
	wantNoWrites(t, s, "a refused platform")
}

// TestUnchangedSaidAlike: push, copy and merge run again with nothing to
// write say so in the same words, with a line for each tag, the extra
// ones included (merge said it otherwise, without its tags).
func TestUnchangedSaidAlike(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	src := putIndex(s, "app", "v1", amd, arm)
	putIndex(s, "app", "v0", amd)
	c := newTestCLI(t)
	saveDraft(t, s.Host+"/app:pushed", "oci", amd, arm)
	for name, tc := range map[string]struct {
		newCmd func(command.Cli) *cobra.Command
		args   []string
		target string
	}{
		"push":  {newPushCommand, []string{s.Host + "/app:pushed", "-t", "extra"}, s.Host + "/app:pushed"},
		"copy":  {newCopyCommand, []string{src.ref, s.Host + "/mirror:v1", "-t", "extra"}, s.Host + "/mirror:v1"},
		"merge": {newMergeCommand, []string{src.ref, s.Host + "/app:v0", "-t", "extra"}, s.Host + "/app:v0"},
	} {
		t.Run(name, func(t *testing.T) {
			d := printedDigest(t, c.mustRun(t, tc.newCmd, tc.args...))
			s.ResetLog()
			c.mustRun(t, tc.newCmd, tc.args...)
			if w := writes(s); len(w) > 0 {
				t.Fatalf("the second run wrote:\n%s", strings.Join(w, "\n"))
			}
			extra := tc.target[:strings.LastIndex(tc.target, ":")] + ":extra"
			want := tc.target + " already holds " + d.String() + ": nothing written\n" +
				tc.target + ": " + string(d)[:19] + "… (unchanged: nothing written)\n" +
				extra + ": " + string(d)[:19] + "… (unchanged: nothing written)\n"
			if got := c.err.String(); got != want {
				t.Errorf("the second run said:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestDryRunSaidAlike: every command's --dry-run is described in one way
// (push said "what would be written", merge "the plan", copy "put").
func TestDryRunSaidAlike(t *testing.T) {
	want := "print the plan (what would be mounted, copied, written and tagged) and write nothing"
	n := 0
	for _, cmd := range NewRootCommand(newTestCLI(t)).Commands() {
		f := cmd.Flags().Lookup("dry-run")
		if f == nil {
			continue
		}
		n++
		if !strings.HasSuffix(strings.ToLower(f.Usage), want) {
			t.Errorf("%s --dry-run: %q, want it to end %q", cmd.Name(), f.Usage, want)
		}
	}
	if n < 4 {
		t.Errorf("%d commands have --dry-run, want push, copy, merge and create at least", n)
	}
}

// TestHelpFitsATerminal: every line of every command's long help fits 80
// columns, as cobra prints it unwrapped (create's ran to 134).
func TestHelpFitsATerminal(t *testing.T) {
	for _, cmd := range append(NewRootCommand(newTestCLI(t)).Commands(), NewRootCommand(newTestCLI(t))) {
		for _, l := range strings.Split(cmd.Long, "\n") {
			if n := len([]rune(l)); n > 80 {
				t.Errorf("%s --help has a line of %d columns: %q", cmd.Name(), n, l)
			}
		}
	}
}

// TestMissingSourceNamesTheCommand: a reference the registry does not hold
// is refused by every reading command with the command's name and the
// reference, as copy, merge and diff did (inspect, verify and create said
// only "REF: not found").
func TestMissingSourceNamesTheCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	missing := s.Host + "/app:nosuch"
	c := newTestCLI(t)
	for _, tc := range []struct {
		newCmd func(command.Cli) *cobra.Command
		args   []string
		prefix string
	}{
		{newInspectCommand, []string{missing}, "inspect: "},
		{newVerifyCommand, []string{missing}, "verify: "},
		{newCreateCommand, []string{s.Host + "/app:list", amd.ref, missing}, "create " + s.Host + "/app:list: "},
		{newCreateCommand, []string{"--push", s.Host + "/app:list", amd.ref, missing}, "create " + s.Host + "/app:list: "},
		{newDiffCommand, []string{missing, amd.ref}, "diff: "},
	} {
		err := c.run(tc.newCmd, tc.args...)
		wantError(t, err, missing)
		if err != nil && !strings.HasPrefix(err.Error(), tc.prefix) {
			t.Errorf("%v: %q does not start %q", tc.args, err, tc.prefix)
		}
	}
	wantNoWrites(t, s, "a refused read")
}

// TestCopyToADigest: a destination named by digest is refused when the
// copy would write another digest, before anything is written (it said
// "already holds …: nothing written" and exited 0 when the repository held
// the source), and with -t the summary names the extra tags (it said
// `tagged ""`).
func TestCopyToADigest(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	src := putIndex(s, "app", "v1", amd, arm)
	c := newTestCLI(t)
	wrong := "sha256:" + strings.Repeat("0", 64)
	for _, repo := range []string{"app", "mirror"} {
		s.ResetLog()
		wantError(t, c.run(newCopyCommand, src.ref, s.Host+"/"+repo+"@"+wrong), wrong, src.digest.String())
		wantNoWrites(t, s, "a refused copy to "+repo)
	}
	c.mustRun(t, newCopyCommand, src.ref, s.Host+"/mirror@"+src.digest.String(), "-t", "x")
	holds(t, s, "mirror", "x", src.digest)
	if want := "by digest and as " + s.Host + "/mirror:x\n"; !strings.HasSuffix(c.err.String(), want) {
		t.Errorf("the summary does not end %q:\n%s", want, c.err)
	}
}

// TestMergeIntoTheSameSingleImage: merging an image into a tag that holds
// that same image makes a list of one (the merge of the entries changes
// nothing, but the tag holds an image, not a list); it panicked.
func TestMergeIntoTheSameSingleImage(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putDockerImage(s, "app", "amd64", "linux/amd64")
	s.PutManifest("app", "v1", amd.desc.MediaType, amd.raw)
	c := newTestCLI(t)
	d := printedDigest(t, dryRunThenRun(t, c, s, newMergeCommand, amd.ref, s.Host+"/app:v1"))
	holds(t, s, "app", "v1", d)
	raw, _ := s.Manifest("app", "v1")
	l, err := manifestlist.ParseList(raw, "")
	if err != nil {
		t.Fatalf("v1 holds no list: %v\n%s", err, raw)
	}
	if len(l.Manifests) != 1 || l.Manifests[0].Digest != amd.digest {
		t.Errorf("v1 holds %s, want a list of %s alone", raw, amd.digest)
	}
}

// TestCopySummarySaysWhatItHolds: copy's last line names the digest, then
// what it is ("…converted to oci sha256:…" read as if the digest were
// the conversion's).
func TestCopySummarySaysWhatItHolds(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putDockerImage(s, "app", "amd64", "linux/amd64")
	arm := putDockerImage(s, "app", "arm64", "linux/arm64/v8")
	src := putIndex(s, "app", "v1", amd, arm)
	c := newTestCLI(t)
	d := printedDigest(t, c.mustRun(t, newCopyCommand, "--media-type", "oci", src.ref, s.Host+"/mirror:v1"))
	if want := "The destination holds " + d.String() + `: a list of 2 entries, converted to oci, tagged "v1"` + "\n"; !strings.HasSuffix(c.err.String(), want) {
		t.Errorf("the summary does not end %q:\n%s", want, c.err)
	}
}

// TestVerifyDraftEntryDeleted: an entry of a draft's own repository that
// was deleted after create is a problem verify reports, since push writes
// the list over it in place without putting it (verify said "no problem
// found", and push then failed with the registry's MANIFEST_BLOB_UNKNOWN).
func TestVerifyDraftEntryDeleted(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	amd := putImage(s, "app", "amd64", "linux/amd64")
	arm := putImage(s, "app", "arm64", "linux/arm64/v8")
	c := newTestCLI(t)
	list := s.Host + "/app:v1"
	saveDraft(t, list, "oci", amd, arm)
	c.mustRun(t, newVerifyCommand, list)
	c.mustRun(t, newDeleteCommand, "--force", s.Host+"/app@"+arm.digest.String())
	err := c.run(newVerifyCommand, list)
	if err == nil || !strings.Contains(c.out.String(), arm.digest.String()) || !strings.Contains(c.out.String(), "manifest not in "+s.Host+"/app") {
		t.Errorf("verify after the entry's deletion: %v\n%s", err, c.out)
	}
	// push, refused by the registry, says where to look.
	wantError(t, c.run(newPushCommand, list), "MANIFEST_BLOB_UNKNOWN", "docker mlist verify "+list)
}
