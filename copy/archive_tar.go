package copy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// tarArchive is a tar file read in place: one pass over its headers finds
// where each regular entry's data lies, and an entry is read from there on
// demand. Nothing is extracted, so an entry no manifest names (a sparse
// file of many GiB, say) costs nothing but its header.
type tarArchive struct {
	name string // the location, for messages
	f    *os.File
	// gzipped archives cannot be read at an offset: an entry is found by
	// decompressing from the start again.
	gzipped bool
	entries map[string]tarEntry
	links   map[string]string // symbolic links, to names in the archive
}

type tarEntry struct {
	ordinal      int   // its header's position, for gzipped archives
	offset, size int64 // offset of the data; -1 when gzipped
}

// compressionOf names the compression a stream starts with, "" for none.
func compressionOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte("BZh")):
		return "bzip2"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

func openTarArchive(name, file string) (_ *tarArchive, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	a := &tarArchive{name: name, f: f, entries: map[string]tarEntry{}, links: map[string]string{}}
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	switch c := compressionOf(head[:n]); c {
	case "":
	case "gzip":
		a.gzipped = true
	default:
		return nil, fmt.Errorf("%s is compressed with %s; only uncompressed and gzip archives are read (decompress it first)", name, c)
	}
	tr, done, err := a.reader()
	if err != nil {
		return nil, err
	}
	defer done()
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not a readable tar archive: %w", name, err)
		}
		n := cleanEntryName(h.Name)
		switch {
		case h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink:
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
				target = path.Join(path.Dir(n), target)
			}
			a.links[n] = cleanEntryName(target)
			delete(a.entries, n)
		case h.Typeflag == tar.TypeReg && !isSparse(h):
			e := tarEntry{ordinal: i, offset: -1, size: h.Size}
			if !a.gzipped {
				// The reader consumes headers in whole blocks and
				// nothing more: the file's offset is the data's.
				if e.offset, err = f.Seek(0, io.SeekCurrent); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
			a.entries[n] = e
			delete(a.links, n)
		default:
			// Directories, devices, and sparse files: no manifest names
			// them, and a sparse one would expand on reading.
			delete(a.entries, n)
			delete(a.links, n)
		}
	}
	return a, nil
}

// isSparse says whether h is a sparse file in one of PAX's GNU forms (the
// old GNU form has a type of its own).
func isSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanEntryName is an entry's name as manifests write it: "./a//b" is "a/b".
func cleanEntryName(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}

// reader reads the archive from its start.
func (a *tarArchive) reader() (*tar.Reader, func(), error) {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", a.name, err)
	}
	if !a.gzipped {
		return tar.NewReader(a.f), func() {}, nil
	}
	// A file of its own: gzipped entries may be read while another is.
	f, err := os.Open(a.f.Name())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", a.name, err)
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", a.name, err)
	}
	return tar.NewReader(zr), func() { zr.Close(); f.Close() }, nil
}

// lookup finds a regular entry by name, following links.
func (a *tarArchive) lookup(name string) (tarEntry, bool) {
	n := cleanEntryName(name)
	for hops := 0; hops < 16; hops++ {
		if e, ok := a.entries[n]; ok {
			return e, true
		}
		t, ok := a.links[n]
		if !ok {
			break
		}
		n = t
	}
	return tarEntry{}, false
}

// open reads entry name; want, when not negative, is the size the manifest
// gives it, and an entry of another size is refused before anything is
// read.
func (a *tarArchive) open(name string, want int64) (io.ReadCloser, int64, error) {
	e, ok := a.lookup(name)
	if !ok {
		return nil, 0, noFileError{a.name, name}
	}
	if want >= 0 && e.size != want {
		return nil, 0, fmt.Errorf("%s: %s holds %d bytes, the manifest says %d", a.name, name, e.size, want)
	}
	if !a.gzipped {
		return io.NopCloser(io.NewSectionReader(a.f, e.offset, e.size)), e.size, nil
	}
	tr, done, err := a.reader()
	if err != nil {
		return nil, 0, err
	}
	for i := 0; ; i++ {
		if _, err := tr.Next(); err != nil {
			done()
			return nil, 0, fmt.Errorf("%s: reading %s: %w", a.name, name, err)
		}
		if i == e.ordinal {
			return readCloser{io.LimitReader(tr, e.size), done}, e.size, nil
		}
	}
}

// readAll reads a small entry whole, refusing one over limit or, when want
// is not negative, of another size than want.
func (a *tarArchive) readAll(name string, want, limit int64) ([]byte, error) {
	e, ok := a.lookup(name)
	if !ok {
		return nil, noFileError{a.name, name}
	}
	if e.size > limit {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d read for it", a.name, name, e.size, limit)
	}
	r, _, err := a.open(name, want)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (a *tarArchive) close() { a.f.Close() }

// noFileError is an entry the archive lacks: a missing file, as a layout's
// would be, so that readers tell missing from broken one way.
type noFileError struct{ archive, name string }

func (e noFileError) Error() string        { return e.archive + " has no file " + e.name }
func (e noFileError) Is(target error) bool { return target == fs.ErrNotExist }

// readCloser is a reader with what ends it.
type readCloser struct {
	io.Reader
	done func()
}

func (r readCloser) Close() error { r.done(); return nil }
