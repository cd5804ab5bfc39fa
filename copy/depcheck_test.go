package copy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDockerTransport holds issue 10's line: the plugin reaches
// registries through its own client only, so containers/image's docker
// transport (and its second credential and retry logic) is not linked.
func TestNoDockerTransport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-tags", "containers_image_openpgp", "-deps", "../cmd/docker-mlist").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "go.podman.io/image/v5/oci/layout\n") {
		t.Fatalf("go list -deps output looks wrong:\n%s", out)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		if dep == "go.podman.io/image/v5/docker" {
			t.Errorf("the plugin links %s", dep)
		}
	}
}
