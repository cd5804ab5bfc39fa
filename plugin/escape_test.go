package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/docker-mlist/docker-mlist/registry"
)

// hasControl reports a byte or rune a terminal would act on, or bytes that
// are not UTF-8.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return true
		}
	}
	return !utf8.ValidString(s) || strings.IndexFunc(s, isControlRune) >= 0
}

func TestEscapeControls(t *testing.T) {
	tests := map[string]struct {
		in, text, lines string
	}{
		"plain":               {"linux/arm64/v8", "linux/arm64/v8", "linux/arm64/v8"},
		"clear screen":        {"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, `\x1b[2J\x1b[H`},
		"window title":        {"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, `\x1b]0;pwned\x07`},
		"newline and tab":     {"a\nb\tc", `a\nb\tc`, "a\nb\tc"},
		"carriage return":     {"ok\rFAKE", `ok\rFAKE`, `ok\rFAKE`},
		"DEL":                 {"a\x7fb", `a\x7fb`, `a\x7fb`},
		"C1 CSI as UTF-8":     {"a\u009b31mb", `a\u009b31mb`, `a\u009b31mb`},
		"C1 CSI as raw byte":  {"a\x9b31mb", `a\x9b31mb`, `a\x9b31mb`},
		"bidi override":       {"abc\u202edef", `abc\u202edef`, `abc\u202edef`},
		"printable unicode":   {"plateforme déjà 日本 ✓", "plateforme déjà 日本 ✓", "plateforme déjà 日本 ✓"},
		"truncated utf-8":     {"\xe6\x97", `\xe6\x97`, `\xe6\x97`},
		"backslash unchanged": {`a\x1b`, `a\x1b`, `a\x1b`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := termText(tc.in); got != tc.text {
				t.Errorf("termText(%q) = %q, want %q", tc.in, got, tc.text)
			}
			if got := termLines(tc.in); got != tc.lines {
				t.Errorf("termLines(%q) = %q, want %q", tc.in, got, tc.lines)
			}
		})
	}
}

// TestJSONText: JSON output keeps its meaning and loses the controls that
// encoding/json lets through (DEL, C1).
func TestJSONText(t *testing.T) {
	v := map[string]string{"platform": "linux/\x1b[2J", "del": "a\x7f", "csi": "\u009b31m", "bidi": "\u202e", "fine": "déjà"}
	var buf bytes.Buffer
	if err := writeFormatted(&buf, "json", v, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if hasControl(out) {
		t.Errorf("JSON output carries a control character: %q", out)
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("escaped JSON does not parse: %v\n%s", err, out)
	}
	for k, want := range v {
		if back[k] != want {
			t.Errorf("%s = %q after the round trip, want %q", k, back[k], want)
		}
	}
}

// TestWriteFormattedEscapes: tables and templates print registry text
// escaped.
func TestWriteFormattedEscapes(t *testing.T) {
	v := struct{ Platform string }{"linux/amd64\x1b[2J\u009b"}
	for _, format := range []string{"table", "{{.Platform}}"} {
		var buf bytes.Buffer
		err := writeFormatted(&buf, format, v, func(w *tabwriter.Writer) {
			w.Write([]byte("PLATFORM\n" + v.Platform + "\n"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if hasControl(buf.String()) || !strings.Contains(buf.String(), `linux/amd64\x1b[2J\u009b`) {
			t.Errorf("format %q printed %q", format, buf.String())
		}
	}
}

// TestTerminalSafeError: the error line is escaped and still unwraps.
func TestTerminalSafeError(t *testing.T) {
	inner := &registry.Error{Host: "r.example", Repository: "app", Reference: "v1", Status: 400, Code: "BAD\x1b[2J", Message: "\x1b]0;pwned\x07"}
	err := terminalSafe(inner)
	if hasControl(err.Error()) || !strings.Contains(err.Error(), `\x1b]0;pwned\x07`) {
		t.Errorf("error line %q", err.Error())
	}
	var re *registry.Error
	if !errors.As(err, &re) || re != inner {
		t.Error("the escaped error does not unwrap to the registry's")
	}
	if terminalSafe(nil) != nil {
		t.Error("terminalSafe(nil) is not nil")
	}
}
