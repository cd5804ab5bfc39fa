package harness

import (
	"os/exec"
	"strings"
)

// Validate checks target (oci:DIR[:TAG], oci-archive:FILE[:TAG],
// docker-archive:FILE or HOST/REPO:TAG on a plain-HTTP registry) with
// go-containerregistry's validate package, through tools/registry's
// -validate mode: a validator written independently of docker-mlist, kept
// out of the plugin's module. It returns what the validator said and
// whether the target is valid; err is for a validator that could not run.
func Validate(target string) (out string, valid bool, err error) {
	bin, err := mlistRegistry()
	if err != nil {
		return "", false, err
	}
	raw, err := exec.Command(bin, "-validate", target).CombinedOutput()
	out = strings.TrimSpace(string(raw))
	if _, exited := err.(*exec.ExitError); exited {
		return out, false, nil
	}
	return out, err == nil && out == "valid", err
}
