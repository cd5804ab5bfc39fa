package copy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTestTar writes a tar of entries (name -> content; a content of
// "->target" is a symbolic link, "/" a directory), gzipped when asked.
func writeTestTar(t *testing.T, entries [][2]string, gz bool) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		switch {
		case strings.HasPrefix(e[1], "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e[1][2:], 0
		case e[1] == "/":
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e[1]))
		}
	}
	_ = tw.Close()
	data := buf.Bytes()
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(data)
		_ = zw.Close()
		data = z.Bytes()
	}
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTarArchiveOpen(t *testing.T) {
	entries := [][2]string{
		{"./index.json", "{}"},
		{"blobs/", "/"},
		{"blobs/sha256/aa", "hello"},
		{"blobs/sha256/bb", "->aa"},
		{"big", "0123456789"},
		{"dup", "old"},
		{"dup", "new"},
	}
	cases := []struct {
		name    string
		want    int64
		content string
		err     string
	}{
		{name: "index.json", want: -1, content: "{}"},
		{name: "blobs/sha256/aa", want: 5, content: "hello"},
		{name: "blobs/sha256/bb", want: 5, content: "hello"},
		{name: "dup", want: 3, content: "new"},
		{name: "big", want: 4, err: "holds 10 bytes, the manifest says 4"},
		{name: "blobs", want: -1, err: "has no file blobs"},
		{name: "missing", want: -1, err: "has no file missing"},
	}
	for _, gz := range []bool{false, true} {
		a, err := openTarArchive("test", writeTestTar(t, entries, gz))
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		if a.gzipped != gz {
			t.Errorf("gzipped = %v, want %v", a.gzipped, gz)
		}
		for _, c := range cases {
			r, _, err := a.open(c.name, c.want)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("gzip %v: open %s: %v, want %q", gz, c.name, err, c.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("gzip %v: open %s: %v", gz, c.name, err)
				continue
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if string(got) != c.content {
				t.Errorf("gzip %v: %s = %q, want %q", gz, c.name, got, c.content)
			}
		}
	}
}

func TestTarArchiveRefusesOtherCompression(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tar.xz")
	if err := os.WriteFile(p, []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openTarArchive("oci-archive:x", p); err == nil || !strings.Contains(err.Error(), "compressed with xz") {
		t.Errorf("open: %v, want it refused as xz", err)
	}
}
