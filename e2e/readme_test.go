package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// README states each request count once, in the Performance table, and it
// is the count TestRequestCounts holds: changing a count is one edit of
// its constant and one of its cell.
func TestReadmeRequestCounts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, perf, ok := strings.Cut(string(raw), "\n## Performance\n")
	if !ok {
		t.Fatal("README has no Performance section")
	}
	perf, _, _ = strings.Cut(perf, "\n## ")
	var rows []string
	for _, l := range strings.Split(perf, "\n") {
		if strings.HasPrefix(l, "| ") {
			rows = append(rows, l)
		}
	}
	tests := []struct {
		row, cell string
		count     int
	}{
		{"same-repository merge", "%d requests", mergeRequests},
		{"create+push of a 4-platform list", "%d requests in the images' repository", sameRepoPushRequests},
		{"create+push of a 4-platform list", "`create --push` %d", createPushOneStepRequests},
		{"create+push of a 4-platform list", "%d into another repository of the same registry", otherRepoPushRequests},
		{"create+push of a 4-platform list", "`copy` of the list into another repository %d", otherRepoCopyRequests},
		{"create+push of 16 platforms", "%d requests", widePushRequests},
		{"across registries", "%d requests", crossCopyRequests},
		{"the destination holding the list", "%d requests", recopyRequests},
		{"of 40 tags", "%d requests, ", mirrorRequests},
		{"of 40 tags", "again, nothing to write: %d requests", remirrorRequests},
	}
	for _, tc := range tests {
		var found []string
		for _, r := range rows {
			if cells := strings.Split(r, "|"); len(cells) > 2 && strings.Contains(cells[1], tc.row) {
				found = append(found, cells[2])
			}
		}
		want := fmt.Sprintf(tc.cell, tc.count)
		switch {
		case len(found) != 1:
			t.Errorf("README's Performance table has %d rows about %q, want 1", len(found), tc.row)
		case !strings.Contains(found[0], want):
			t.Errorf("README's Performance table, %q: %q lacks %q", tc.row, strings.TrimSpace(found[0]), want)
		}
	}
	// Anywhere else, a count would be a second statement of one of these.
	counted := regexp.MustCompile(`\b(\d+|two|three|four|five|six|seven|eight|nine|ten) (registry |HEAD )?requests\b`)
	for i, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(l, "| ") && counted.MatchString(l) {
			t.Errorf("README.md:%d states a request count outside the Performance table (refer to it instead): %s", i+1, l)
		}
	}
}
