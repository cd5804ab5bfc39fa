package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Validate checks what ref names with an independent validator,
// go-containerregistry's pkg/v1/validate (what `crane validate` runs), by
// way of `mlist-registry validate`: every manifest's digest and size, every
// layer's digest and diff ID, each config, and each index entry's media
// type and platform against its image's config. ref is HOST/REPO:TAG or
// HOST/REPO@DIGEST on a plain-HTTP registry, oci:DIR[:TAG] or
// oci-archive:FILE[:TAG] (the whole layout is checked). A registry with TLS
// or users goes through Registry.Validate.
func Validate(tb testing.TB, ref string) {
	tb.Helper()
	validate(tb, ref, nil, nil)
}

// Validate checks repoAndRef ("repo:tag" or "repo@digest") of r as the
// package's Validate does, with r's CA and first user.
func (r *Registry) Validate(tb testing.TB, repoAndRef string) {
	tb.Helper()
	if err := r.ValidationError(tb, repoAndRef); err != nil {
		tb.Error(err)
	}
}

// ValidationError is what the validator says of repoAndRef, nil when it
// accepts it: for tests that show it refuses what it must.
func (r *Registry) ValidationError(tb testing.TB, repoAndRef string) error {
	tb.Helper()
	var args, env []string
	if r.CACertFile != "" {
		args = append(args, "-ca", r.CACertFile)
	} else if len(r.CACertPEM) > 0 {
		f := tb.TempDir() + "/ca.crt"
		if err := os.WriteFile(f, r.CACertPEM, 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, "-ca", f)
	}
	if u, p := r.firstUser(); u != "" {
		env = append(env, "MLIST_VALIDATE_USER="+u, "MLIST_VALIDATE_PASSWORD="+p)
	}
	return validationError(tb, r.Host+"/"+repoAndRef, args, env)
}

func validate(tb testing.TB, ref string, args, env []string) {
	tb.Helper()
	if err := validationError(tb, ref, args, env); err != nil {
		tb.Error(err)
	}
}

func validationError(tb testing.TB, ref string, args, env []string) error {
	tb.Helper()
	bin, err := mlistRegistry()
	if err != nil {
		tb.Fatalf("validate %s: %v", ref, err)
	}
	cmd := exec.Command(bin, append(append([]string{"validate"}, args...), ref)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go-containerregistry's validator refuses %s: %v\n%s", ref, err, strings.TrimSpace(out.String()))
	}
	return nil
}
