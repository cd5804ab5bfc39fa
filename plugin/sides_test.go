package plugin

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker/cli/cli/command"
)

// TestCopyParsesCredentialsOnce runs a copy from a registry to a local
// layout with both --src-creds and --dest-creds lacking a password: each is
// asked for once (the copy used to parse them again for the local side),
// and the source registry receives the account given for SOURCE.
func TestCopyParsesCredentialsOnce(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("DOCKER_MLIST_SRC_PASSWORD", "")
	t.Setenv("DOCKER_MLIST_DEST_PASSWORD", "")
	var mu sync.Mutex
	prompts := map[string]int{}
	passwords := map[string]string{"--src-creds": "src-secret", "--dest-creds": "dest-secret"}
	saved := promptPassword
	t.Cleanup(func() { promptPassword = saved })
	promptPassword = func(_ command.Cli, user, flag, _ string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		prompts[flag+" "+user]++
		return passwords[flag], nil
	}
	var seen []string
	srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		seen = append(seen, user+":"+password)
		mu.Unlock()
		http.NotFound(w, r)
	})

	dockerCLI, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	host := srv.Host
	opts := copyOptions{
		source: host + "/app:1.0", destination: "oci:" + t.TempDir() + ":1.0",
		jobs: 1, format: "table", quiet: true,
		sides: sides{srcCreds: "alice", destCreds: "bob"},
	}
	if err := runCopy(context.Background(), dockerCLI, opts); err == nil {
		t.Fatal("copy of a missing source succeeded")
	}
	want := map[string]int{"--src-creds alice": 1, "--dest-creds bob": 1}
	if len(prompts) != len(want) || prompts["--src-creds alice"] != 1 || prompts["--dest-creds bob"] != 1 {
		t.Errorf("prompts %v, want %v", prompts, want)
	}
	if len(seen) == 0 {
		t.Fatal("the source registry received no credentials")
	}
	for _, s := range seen {
		if s != "alice:src-secret" {
			t.Errorf("source registry received %q, want the --src-creds account", s)
		}
	}
}
