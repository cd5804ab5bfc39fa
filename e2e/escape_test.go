package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
)

// Issue 8's terminal safety: registry-supplied text (platforms,
// annotations, media types, tag names, error messages) reaches the
// terminal with its control characters escaped, whatever the command and
// output format; --raw alone prints the registry's exact bytes.

// hostile is text a registry might send to take over a terminal: clear the
// screen, retitle the window, colour, a C1 CSI, a bidirectional override
// and a carriage return that would overwrite the line.
const hostile = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31m\u009b1;1H\u202e\rFAKE"

// controlIn returns a description of the first byte or rune of s that a
// terminal would act on (C0 controls other than newline and tab, DEL, C1
// controls as UTF-8 or raw bytes, bidirectional overrides), or "".
func controlIn(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1 && s[i] >= 0x80 && s[i] <= 0x9f:
			return fmt.Sprintf("raw C1 byte %#x at byte %d", s[i], i)
		case (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Sprintf("control %U at byte %d", r, i)
		}
		i += size
	}
	return ""
}

// checkEscaped fails t if what the command printed carries a control
// character, and, when shown, unless the escaped hostile text is there (so
// the data was printed, not dropped).
func checkEscaped(t testing.TB, what string, r result, shown bool) {
	t.Helper()
	for name, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
		if c := controlIn(out); c != "" {
			t.Errorf("%s: %s carries a %s:\n%q", what, name, c, out)
		}
	}
	if shown && !strings.Contains(r.Combined(), `\x1b[2J`) && !strings.Contains(r.Combined(), `\u001b[2J`) {
		t.Errorf("%s: the escaped registry text is not in the output:\nstdout: %q\nstderr: %q", what, r.Stdout, r.Stderr)
	}
}

// pushHostileList pushes, as repo:tag, an OCI index of imgs whose entries
// are edited by edit, and returns its raw bytes.
func pushHostileList(t testing.TB, reg *harness.Registry, repo, tag string, imgs []harness.Image, annotations map[string]string, edit func(*harness.Descriptor)) []byte {
	t.Helper()
	ix := harness.Index{SchemaVersion: 2, MediaType: harness.MediaTypeOCIIndex, Annotations: annotations}
	for _, img := range imgs {
		d := img.Descriptor()
		edit(&d)
		ix.Manifests = append(ix.Manifests, d)
	}
	raw, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Client().PutManifest(repo, tag, harness.MediaTypeOCIIndex, raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestEscapeRegistryText: lists whose annotations or platforms carry
// escape sequences are printed escaped by inspect (JSON, table, verbose,
// template), by ls and inspect of a draft made from them, and by the merge
// plan; tag names and a registry's error message likewise. --raw keeps the
// exact bytes.
func TestEscapeRegistryText(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	imgs := reg.PushImages(t, repo, "img", harness.ImageOptions{OCI: true}, "linux/amd64", "linux/arm64")
	annotated := pushHostileList(t, reg, repo, "annotated", imgs, map[string]string{"org.example.note" + hostile: hostile},
		func(d *harness.Descriptor) {
			d.Annotations = map[string]string{"org.opencontainers.image.title": hostile}
		})
	// Platforms a registry should never send; validation may refuse them,
	// but whatever is printed must be escaped.
	pushHostileList(t, reg, repo, "platform", imgs, nil, func(d *harness.Descriptor) {
		d.Platform.OSVersion = hostile
		d.Platform.OSFeatures = []string{hostile}
	})
	e := newEnv(t)

	t.Run("annotations", func(t *testing.T) {
		ref := reg.Ref(repo + ":annotated")
		for _, args := range [][]string{
			{"inspect", ref},
			{"inspect", "-v", ref},
			{"inspect", "-v", "--format", "json", ref},
			{"inspect", "--format", "{{json .Annotations}} {{range .Manifests}}{{.Annotations}}{{end}}", ref},
			{"inspect", "--format", "{{range $k, $v := .Annotations}}{{$k}}={{$v}}{{end}}", ref},
		} {
			r := e.mlist(args...)
			mustSucceed(t, r, strings.Join(args, " "))
			checkEscaped(t, strings.Join(args, " "), r, true)
		}
		// JSON output still parses to the registry's values.
		var v struct {
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(e.mustMlist(t, "inspect", ref)), &v); err != nil || v.Annotations["org.example.note"+hostile] != hostile {
			t.Errorf("inspect's JSON does not give back the annotation: %v %q", err, v.Annotations)
		}
	})

	t.Run("raw", func(t *testing.T) {
		out := e.mustMlist(t, "inspect", "--raw", reg.Ref(repo+":annotated"))
		sum := sha256.Sum256([]byte(out))
		if out != string(annotated) || "sha256:"+hex.EncodeToString(sum[:]) != harness.Digest(annotated) {
			t.Errorf("--raw printed other bytes than the registry's")
		}
	})

	t.Run("platforms", func(t *testing.T) {
		ref := reg.Ref(repo + ":platform")
		for _, args := range [][]string{
			{"inspect", "--format", "table", ref},
			{"inspect", "-v", "--format", "table", ref},
			{"inspect", "--format", "{{range .Manifests}}{{.Platform}}{{\"\\n\"}}{{end}}", ref},
			{"merge", "--dry-run", ref, reg.Ref(repo + ":annotated")},
			{"merge", "--dry-run", "--format", "json", ref, reg.Ref(repo + ":annotated")},
		} {
			checkEscaped(t, strings.Join(args, " "), e.mlist(args...), true)
		}
		draft := reg.Ref(repo + ":draft")
		if r := e.mlist("create", draft, ref); r.ExitCode != 0 {
			checkEscaped(t, "create", r, true)
			return
		}
		for _, args := range [][]string{{"ls"}, {"ls", "--format", "json"}, {"inspect", "--format", "table", draft}} {
			r := e.mlist(args...)
			mustSucceed(t, r, strings.Join(args, " "))
			checkEscaped(t, strings.Join(args, " "), r, true)
		}
	})

	t.Run("tags and errors", func(t *testing.T) {
		p, err := proxy.Start(reg.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case strings.HasSuffix(r.URL.Path, "/tags/list"):
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": []string{"v1", "evil" + hostile}})
				return true
			case strings.HasSuffix(r.URL.Path, "/manifests/broken"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED" + hostile, "message": hostile}}})
				return true
			}
			return false
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		for _, format := range []string{"", "table", "json", "{{.}}"} {
			args := []string{"tags", p.Host + "/" + repo}
			if format != "" {
				args = append(args, "--format", format)
			}
			r := e.mlist(args...)
			mustSucceed(t, r, strings.Join(args, " "))
			checkEscaped(t, strings.Join(args, " "), r, true)
		}
		r := e.mlistFails(t, "HTTP 400", "inspect", p.Host+"/"+repo+":broken")
		checkEscaped(t, "inspect of an error", r, true)
		// copy reads the tag with HEAD: the error has no body to quote.
		r = e.mlistFails(t, "HTTP 400", "copy", p.Host+"/"+repo+":broken", reg.Ref(repo+":copy"))
		checkEscaped(t, "copy of an error", r, false)
	})
}
