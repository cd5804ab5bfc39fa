package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Every byte the docker CLI (and so the plugin) printed in this run, and
// every draft file left in an env, is kept here; after the whole package has
// run, checkNoSecrets fails the run if any credential a test used appears
// in it (STYLE.md: never print credentials, not with --debug either).
var leaks struct {
	mu      sync.Mutex
	secrets map[string]string // value -> what it is
	output  bytes.Buffer
	drafts  bytes.Buffer
}

// registerSecret records a credential that must never be printed. A
// username:password pair is registered with its base64 form too.
func registerSecret(what, value string) {
	if len(value) < 6 {
		return // too short to search for without false alarms
	}
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if leaks.secrets == nil {
		leaks.secrets = map[string]string{}
	}
	leaks.secrets[value] = what
}

// registerLogin records password and the base64 user:password of a Basic
// header or a config.json "auth" field.
func registerLogin(user, password string) {
	registerSecret("password of "+user, password)
	registerSecret("base64 "+user+":password", base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// recordOutput keeps what a docker command printed.
func recordOutput(stdout, stderr []byte) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	leaks.output.Write(stdout)
	leaks.output.Write(stderr)
}

// recordDrafts keeps the draft files of a config dir (docker manifest's
// manifests/ and the plugin's mlist/), before the env is removed.
func recordDrafts(configDir string) {
	for _, sub := range []string{"manifests", "mlist"} {
		_ = filepath.WalkDir(filepath.Join(configDir, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if data, err := os.ReadFile(path); err == nil {
				leaks.mu.Lock()
				fmt.Fprintf(&leaks.drafts, "== %s\n", path)
				leaks.drafts.Write(data)
				leaks.mu.Unlock()
			}
			return nil
		})
	}
}

// checkNoSecrets reports every registered secret found in the recorded
// output or drafts.
func checkNoSecrets() error {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	var found []string
	for value, what := range leaks.secrets {
		for _, where := range []struct {
			name string
			data []byte
		}{{"command output", leaks.output.Bytes()}, {"drafts", leaks.drafts.Bytes()}} {
			if i := bytes.Index(where.data, []byte(value)); i >= 0 {
				lo, hi := max(0, i-80), min(len(where.data), i+len(value)+20)
				ctx := strings.ReplaceAll(string(where.data[lo:hi]), value, "<"+what+">")
				found = append(found, fmt.Sprintf("%s appears in %s: …%s…", what, where.name, ctx))
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Strings(found)
	return fmt.Errorf("credentials leaked (%d secrets checked against %d bytes of output and %d of drafts):\n%s",
		len(leaks.secrets), leaks.output.Len(), leaks.drafts.Len(), strings.Join(found, "\n"))
}

// secretsChecked describes the check, for the log.
func secretsChecked() string {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	return fmt.Sprintf("%d secrets checked against %d bytes of docker output and %d bytes of drafts",
		len(leaks.secrets), leaks.output.Len(), leaks.drafts.Len())
}
