package plugin

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestInspectTableSizes: the table gives sizes in human units on a
// terminal and exact bytes otherwise; an attestation's row names whose it
// is.
func TestInspectTableSizes(t *testing.T) {
	view := inspected{Name: "r.example/app:1", Manifests: []inspectedEntry{
		{Size: 1234567, label: "linux/amd64"},
		{Size: 842, label: "attestation of linux/amd64"},
	}}
	for _, tc := range []struct {
		name string
		size func(int64) string
		want []string
	}{
		{"terminal", humanSize, []string{"linux/amd64\t\t\t1.23MB", "attestation of linux/amd64\t\t\t842B"}},
		{"piped", func(n int64) string { return fmt.Sprint(n) }, []string{"linux/amd64\t\t\t1234567", "attestation of linux/amd64\t\t\t842"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeInspectTable(&buf, view, false, tc.size)
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if got := lines[len(lines)-2:]; strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
