package copy

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Counts are what a transfer did.
type Counts struct {
	Manifests, Present                         int // manifests written / already there
	Mounted, Uploaded, BlobsSeen, BlobsPresent int
	BytesUploaded                              int64
	// Tags a mirror writes, and TagsDone those written so far.
	Tags, TagsDone int
}

// Stats collects the Counts of a transfer, and what is streaming now, for
// progress displays and benchmarks. It is safe for concurrent use; read it
// while a copy runs with Snapshot.
type Stats struct {
	mu sync.Mutex
	Counts
	// Progress, when set, gets one line per manifest written.
	Progress io.Writer

	active map[digest.Digest]*BlobProgress
}

// BlobProgress is how far one blob's transfer has come.
type BlobProgress struct {
	Digest     digest.Digest
	Done, Size int64
}

// Snapshot returns the counts and the blobs streaming now.
func (s *Stats) Snapshot() (Counts, []BlobProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var active []BlobProgress
	for _, b := range s.active {
		active = append(active, *b)
	}
	slices.SortFunc(active, func(a, b BlobProgress) int { return compareDigests(a.Digest, b.Digest) })
	return s.Counts, active
}

func compareDigests(a, b digest.Digest) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// progress writes one line to Stats.Progress, if set.
func (s *Stats) progress(format string, args ...any) {
	if s == nil || s.Progress == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.Progress, format+"\n", args...)
}

func (s *Stats) add(f func(*Stats)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *Stats) startBlob(d digest.Digest, size int64) {
	s.add(func(s *Stats) {
		if s.active == nil {
			s.active = map[digest.Digest]*BlobProgress{}
		}
		s.active[d] = &BlobProgress{Digest: d, Size: size}
	})
}

func (s *Stats) endBlob(d digest.Digest) {
	s.add(func(s *Stats) { delete(s.active, d) })
}

// countingReader reports what passes through it while a blob streams, so a
// terminal can show each blob's progress.
type countingReader struct {
	r      io.Reader
	digest digest.Digest
	stats  *Stats
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.stats.add(func(s *Stats) {
			s.BytesUploaded += int64(n)
			if b := s.active[c.digest]; b != nil {
				b.Done += int64(n)
			}
		})
	}
	return n, err
}
