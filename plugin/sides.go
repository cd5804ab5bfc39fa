package plugin

import (
	"fmt"
	"os"
	"strings"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/docker/cli/cli/command"
	"github.com/moby/term"
	"github.com/spf13/pflag"
)

// sides are the registry options of a command that reads in one place and
// writes in another (merge, copy): each side may use its own account.
type sides struct {
	registry            registryFlags
	srcCreds, destCreds string
}

func (s *sides) install(flags *pflag.FlagSet) {
	flags.StringVar(&s.srcCreds, "src-creds", "", "USER[:PASSWORD] for SOURCE (password from $DOCKER_MLIST_SRC_PASSWORD if omitted)")
	flags.StringVar(&s.destCreds, "dest-creds", "", "USER[:PASSWORD] for DESTINATION (password from $DOCKER_MLIST_DEST_PASSWORD if omitted)")
	flags.BoolVar(&s.registry.insecure, "insecure", false, "Allow plain HTTP and unverified TLS registries")
}

// sessions returns the sessions for the two sides: one shared session (one
// token per registry) unless --src-creds or --dest-creds ask for different
// accounts. It parses each side's credentials, which may prompt for a
// password, so a command calls it once and uses its sessions everywhere.
func (s sides) sessions(dockerCLI command.Cli) (*registry.Session, *registry.Session, error) {
	if s.srcCreds == "" && s.destCreds == "" {
		sess := newSession(dockerCLI, s.registry)
		return sess, sess, nil
	}
	srcFlags, dstFlags := s.registry, s.registry
	var err error
	if srcFlags.creds, err = parseCreds(dockerCLI, s.srcCreds, "--src-creds", "DOCKER_MLIST_SRC_PASSWORD"); err != nil {
		return nil, nil, err
	}
	if dstFlags.creds, err = parseCreds(dockerCLI, s.destCreds, "--dest-creds", "DOCKER_MLIST_DEST_PASSWORD"); err != nil {
		return nil, nil, err
	}
	return newSession(dockerCLI, srcFlags), newSession(dockerCLI, dstFlags), nil
}

// parseCreds reads USER[:PASSWORD]; a missing password comes from env, or
// from a prompt when stdin is a terminal. "" means the Docker config's.
func parseCreds(dockerCLI command.Cli, s, flag, env string) (*registry.Credentials, error) {
	if s == "" {
		return nil, nil
	}
	user, password, ok := strings.Cut(s, ":")
	if user == "" {
		return nil, fmt.Errorf("invalid %s: expected USER[:PASSWORD]", flag)
	}
	if !ok {
		password = os.Getenv(env)
	}
	if password == "" {
		var err error
		if password, err = promptPassword(dockerCLI, user, flag, env); err != nil {
			return nil, err
		}
	}
	return &registry.Credentials{Username: user, Password: password, From: flag}, nil
}

// promptPassword asks a terminal user for user's password, without echo; a
// variable so that a test can count the prompts.
var promptPassword = func(dockerCLI command.Cli, user, flag, env string) (string, error) {
	in := dockerCLI.In()
	if !in.IsTerminal() {
		return "", fmt.Errorf("%s %s: no password given; use USER:PASSWORD or set %s", flag, user, env)
	}
	fmt.Fprintf(dockerCLI.Err(), "Password for %s (%s): ", user, flag)
	state, err := term.SaveState(in.FD())
	if err == nil {
		_ = term.DisableEcho(in.FD(), state)
		defer term.RestoreTerminal(in.FD(), state)
	}
	var line string
	_, _ = fmt.Fscanln(in, &line)
	fmt.Fprintln(dockerCLI.Err())
	return line, nil
}
