package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/docker/cli/templates"
)

// formatHelp is the --format help shared by every command that prints data.
const formatHelp = `Format output: "json", "table", or a Go template (e.g. '{{.Digest}}')`

// writeFormatted prints v as indented JSON ("" or "json"), as a table
// ("table", drawn by table), or through a Go template.
func writeFormatted(w io.Writer, format string, v any, table func(*tabwriter.Writer)) error {
	switch format {
	case "", "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		table(tw)
		return tw.Flush()
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return fmt.Errorf("invalid --format %q: %w", format, err)
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("invalid --format %q: %w", format, err)
	}
	_, err = fmt.Fprintln(w)
	return err
}
