package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The reference in docs/reference must be what the command tree says today.
func TestReferenceUpToDate(t *testing.T) {
	pages, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "reference")
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v; run `make docs`", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/reference/%s is out of date; run `make docs`", name)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "mlist*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := pages[filepath.Base(f)]; !ok {
			t.Errorf("docs/reference/%s documents no command; run `make docs`", filepath.Base(f))
		}
	}
}

// Every command, with every visible flag, has its page.
func TestReferenceCoversEveryCommand(t *testing.T) {
	pages, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mlist.md", "mlist_create.md", "mlist_annotate.md", "mlist_copy.md", "mlist_version.md"} {
		if _, ok := pages[name]; !ok {
			t.Errorf("no page %s among %d pages", name, len(pages))
		}
	}
	copyPage := string(pages["mlist_copy.md"])
	for _, want := range []string{"`docker mlist cp`", "| `--platform` | `strings` |", "| `-f`, `--format` | `string` | `table` |", "| `-j`, `--jobs` | `int` | `6` |"} {
		if !strings.Contains(copyPage, want) {
			t.Errorf("mlist_copy.md lacks %q:\n%s", want, copyPage)
		}
	}
	if strings.Contains(copyPage, "--platforms") {
		t.Errorf("mlist_copy.md documents the hidden alias --platforms:\n%s", copyPage)
	}
	if root := string(pages["mlist.md"]); !strings.Contains(root, "[`create`](mlist_create.md)") {
		t.Errorf("mlist.md does not link the create page:\n%s", root)
	}
}

// The generator removes pages of commands that are gone and writes the rest.
func TestWriteRemovesStalePages(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "mlist_gone.md")
	other := filepath.Join(dir, "README.md")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale page kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is no command page was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mlist_push.md")); err != nil {
		t.Errorf("mlist_push.md not written: %v", err)
	}
}
