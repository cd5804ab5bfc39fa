package plugin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
)

// The two commands that call the registry client themselves: tags and
// delete, checked against what the test registry holds and was asked.

func TestTagsCommand(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	want := []string{}
	for i := range 5 {
		tag := fmt.Sprintf("v%d", i)
		putImage(s, "app", tag, "linux/amd64")
		want = append(want, tag)
	}
	tests := map[string]struct {
		args      []string
		wantPages int // tag list requests made
		wantErr   []string
	}{
		"one page":                   {args: []string{s.Host + "/app"}, wantPages: 1},
		"pages of two":               {args: []string{"--page-size", "2", s.Host + "/app"}, wantPages: 3},
		"a tag names its repository": {args: []string{s.Host + "/app:v1"}, wantPages: 1},
		// docker:// means the registry here as in every command.
		"docker://REPOSITORY": {args: []string{"docker://" + s.Host + "/app"}, wantPages: 1},
		"a layout":            {args: []string{"oci:/tmp/layout"}, wantErr: []string{"oci:/tmp/layout", "REF or docker://REF"}},

		"negative page size":    {args: []string{"--page-size", "-1", s.Host + "/app"}, wantErr: []string{"-1", "0 or more"}},
		"an unknown repository": {args: []string{s.Host + "/nosuch"}, wantPages: 1, wantErr: []string{"nosuch"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestCLI(t)
			before := s.Count("GET", "/tags/list")
			err := c.run(newTagsCommand, append([]string{"--format", "json"}, tc.args...)...)
			if n := s.Count("GET", "/tags/list") - before; n != tc.wantPages {
				t.Errorf("%d tag list requests, want %d", n, tc.wantPages)
			}
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := json.Unmarshal(c.out.Bytes(), &got); err != nil {
				t.Fatalf("%v: %q", err, c.out)
			}
			if !slices.Equal(got, want) {
				t.Errorf("tags %v, want %v", got, want)
			}
		})
	}
}

// TestDeleteCommand deletes by digest and by tag and checks what the
// registry holds afterwards and the digest printed.
func TestDeleteCommand(t *testing.T) {
	tests := map[string]struct {
		opts    registrystub.Options
		args    func(host string, im image) []string
		deleted bool // the image is gone, and its digest printed
		wantErr func(host string, im image) []string
	}{
		"by digest":          {args: func(h string, im image) []string { return []string{h + "/app@" + im.digest.String()} }, deleted: true},
		"a tag with --force": {args: func(h string, im image) []string { return []string{"--force", h + "/app:v1"} }, deleted: true},
		"docker://REF":       {args: func(h string, im image) []string { return []string{"docker://" + h + "/app@" + im.digest.String()} }, deleted: true},
		"a layout": {args: func(h string, im image) []string { return []string{"oci:/tmp/layout:v1"} },
			wantErr: func(h string, im image) []string { return []string{"oci:/tmp/layout:v1", "REF or docker://REF"} }},

		"a tag, no terminal, no --force": {args: func(h string, im image) []string { return []string{h + "/app:v1"} },
			wantErr: func(h string, im image) []string { return []string{im.digest.String(), "--force"} }},
		"a missing tag": {args: func(h string, im image) []string { return []string{"-f", h + "/app:nosuch"} },
			wantErr: func(h string, im image) []string { return []string{"app:nosuch"} }},
		"a registry without deletes": {opts: registrystub.Options{NoDeletes: true},
			args:    func(h string, im image) []string { return []string{h + "/app@" + im.digest.String()} },
			wantErr: func(h string, im image) []string { return []string{h, "does not allow deletes"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := registrystub.Start(t, tc.opts)
			im := putImage(s, "app", "v1", "linux/amd64")
			putImage(s, "app", "v2", "linux/arm64")
			c := newTestCLI(t)
			err := c.run(newDeleteCommand, tc.args(s.Host, im)...)
			if tc.wantErr != nil {
				wantError(t, err, tc.wantErr(s.Host, im)...)
			} else if err != nil {
				t.Fatal(err)
			}
			_, held := s.Manifest("app", im.digest.String())
			if held == tc.deleted {
				t.Errorf("after delete the registry holds %s: %v, want %v", im.digest, held, !tc.deleted)
			}
			wantTags := []string{"v1", "v2"}
			if tc.deleted {
				wantTags = wantTags[1:]
			}
			if got := s.Tags("app"); !slices.Equal(got, wantTags) {
				t.Errorf("tags %v, want %v", got, wantTags)
			}
			wantOut := ""
			if tc.deleted {
				wantOut = im.digest.String()
			}
			if got := strings.TrimSpace(c.out.String()); got != wantOut {
				t.Errorf("printed %q, want %q", got, wantOut)
			}
			if n := s.Count("DELETE", "/manifests/"); tc.deleted && n != 1 {
				t.Errorf("%d DELETE requests, want 1", n)
			}
		})
	}
}
