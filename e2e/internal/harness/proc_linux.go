package harness

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the registry die with the test binary, so an
// interrupted run leaves no registry behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
