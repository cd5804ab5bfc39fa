package plugin

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Registries are not trusted to send printable text: a platform, an
// annotation, a tag or an error message may carry terminal escape sequences
// that clear the screen, retitle the window, or hide what follows. Every
// string from a registry passes through one of these before it reaches a
// terminal; --raw alone prints the exact bytes, for pipes.

// termText returns s with control characters written as escapes, for one
// value on one line (a table cell, a name in a message): C0 controls
// (newline and tab included), DEL and C1 controls become \xNN or \u00NN,
// bytes that are not UTF-8 become \xNN, and the Unicode controls that
// reorder text on screen (bidirectional overrides and isolates) become
// \uNNNN. Printable Unicode is kept.
func termText(s string) string { return escapeControls(s, false) }

// termLines is termText for text of several lines, such as a rendered table
// or an error: newlines and tabs are kept.
func termLines(s string) string { return escapeControls(s, true) }

func escapeControls(s string, keepLayout bool) string {
	if !needsEscape(s, keepLayout) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControlRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// jsonText makes JSON text safe for a terminal without changing what it
// means: encoding/json (and json.Indent, which keeps string contents) let
// DEL and C1 controls through, so they are written as the equivalent \u
// escapes; a byte that is not UTF-8 becomes U+FFFD, as encoding/json itself
// does. Valid JSON stays valid, with the same values.
func jsonText(s string) string {
	if !needsEscape(s, true) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r != '\n' && r != '\t' && r != '\r' && (r < 0x20 || r == 0x7f || isControlRune(r)):
			// Raw C0 controls are not valid JSON inside strings, and
			// outside them only \n, \t and \r are whitespace; escaping
			// keeps them from the terminal either way.
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape is the fast path: most text is plain ASCII.
func needsEscape(s string, keepLayout bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == 0x7f || (c < 0x20 && !(keepLayout && (c == '\n' || c == '\t'))) {
			return true
		}
	}
	return false
}

// isControlRune reports the non-ASCII runes that act on a terminal or on
// the order of text: C1 controls (U+0080-U+009F, among them CSI U+009B) and
// the bidirectional embeddings, overrides and isolates.
func isControlRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) ||
		(r >= 0x2066 && r <= 0x2069)
}

// safeError is an error whose text is escaped for the terminal; it still
// unwraps to the original for errors.Is and errors.As.
type safeError struct{ err error }

func (e safeError) Error() string { return termLines(e.err.Error()) }
func (e safeError) Unwrap() error { return e.err }

// terminalSafe wraps err so that the error line the plugin framework prints
// carries no control characters from a registry's message.
func terminalSafe(err error) error {
	if err == nil {
		return nil
	}
	return safeError{err}
}
