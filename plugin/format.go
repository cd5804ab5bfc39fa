package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/docker/cli/templates"
)

// formatNames are the named values of --format (besides a Go template),
// for the check, the help and the completion alike.
var formatNames = []string{"table", "json"}

// formatHelp is the --format help of every command that prints data, for
// what is formatted: the accepted values.
func formatHelp(what string) string {
	quoted := make([]string, len(formatNames))
	for i, n := range formatNames {
		quoted[i] = strconv.Quote(n)
	}
	return fmt.Sprintf(`Format %s: %s, or a Go template (e.g. '{{json .}}')`, what, strings.Join(quoted, ", "))
}

// checkFormat accepts the values of --format every command takes: "" (the
// command's default output), a name in formatNames, or a Go template that
// parses.
func checkFormat(s string) error {
	switch {
	case s == "", slices.Contains(formatNames, s):
		return nil
	case strings.Contains(s, "{{"):
		if _, err := templates.Parse(s); err != nil {
			return &flagValueError{fmt.Sprintf("invalid --format %q: %v", s, err)}
		}
		return nil
	}
	return &flagValueError{fmt.Sprintf(`invalid --format %q: accepted: %s, or a Go template such as '{{json .}}'`, s, strings.Join(formatNames, ", "))}
}

// writeFormatted prints v as indented JSON ("" or "json"), as a table
// ("table", drawn by table), or through a Go template. The output is
// rendered first and escaped for the terminal as a whole (termLines, or
// jsonText for JSON), since v carries strings from registries; table
// should still pass each cell through termText, so that a tab or newline in
// a value cannot break the table's layout.
func writeFormatted(w io.Writer, format string, v any, table func(*tabwriter.Writer)) error {
	var buf bytes.Buffer
	switch format {
	case "", "json":
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := io.WriteString(w, jsonText(buf.String()))
		return err
	case "table":
		tw := tabwriter.NewWriter(&buf, 0, 4, 3, ' ', 0)
		table(tw)
		if err := tw.Flush(); err != nil {
			return err
		}
	default:
		tmpl, err := templates.Parse(format)
		if err != nil {
			return fmt.Errorf("invalid --format %q: %w", format, err)
		}
		if err := tmpl.Execute(&buf, v); err != nil {
			return fmt.Errorf("invalid --format %q: %w", format, err)
		}
		buf.WriteByte('\n')
	}
	_, err := io.WriteString(w, termLines(buf.String()))
	return err
}
