package plugin

import (
	"runtime"
	"testing"
)

// TestVersionCommand checks that version prints the stamped version and
// commit, and refuses an argument.
func TestVersionCommand(t *testing.T) {
	v, commit := Version, Commit
	t.Cleanup(func() { Version, Commit = v, commit })
	Version, Commit = "1.2.3", "abc1234"
	c := newTestCLI(t)
	want := "docker-mlist 1.2.3 (commit abc1234, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if got := c.mustRun(t, newVersionCommand); got != want {
		t.Errorf("version printed %q, want %q", got, want)
	}
	Commit = ""
	if got := c.mustRun(t, newVersionCommand); got != "docker-mlist 1.2.3 (commit unknown, "+runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")\n" {
		t.Errorf("version without a commit printed %q", got)
	}
	// cli.NoArgs, as docker's own commands: it says what is accepted, not
	// which argument was extra.
	wantError(t, c.run(newVersionCommand, "extra"), "accepts no arguments")
}
