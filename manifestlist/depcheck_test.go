package manifestlist

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the library packages (manifestlist, and copy and
// registry beside it) usable without the Docker CLI: none may pull in
// docker/cli or cobra.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-tags", "containers_image_openpgp", "-deps", ".", "../copy", "../registry").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "go.podman.io/image/v5/manifest\n") {
		t.Fatalf("go list -deps output looks wrong:\n%s", out)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		for _, banned := range []string{"github.com/docker/cli", "github.com/spf13/cobra"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("a library package depends on %s", dep)
			}
		}
	}
}
