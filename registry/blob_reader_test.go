package registry

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestBlobBodyReadsOn: a blob body cut part-way is read on from the byte
// reached with Range, within the retry policy, and arrives whole.
func TestBlobBodyReadsOn(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789"), 100)
	d := digest.FromBytes(blob)
	// answer says how the nth GET (from 0) of the blob is answered.
	type answer struct {
		cutAt       int    // cut the body when this byte of the blob is reached; 0: never
		cutAfter    int    // cut the body after this many bytes; 0: never
		status      int    // answer with this status and no body; 0: serve
		ignoreRange bool   // answer 200 with the whole blob
		badRange    string // Content-Range sent instead of the right one
	}
	tests := map[string]struct {
		answers    []answer // the last repeats
		wantRanges []string
		wantErr    string
	}{
		"cut twice": {
			answers:    []answer{{cutAt: 300}, {cutAt: 700}, {}},
			wantRanges: []string{"", "bytes=300-", "bytes=700-"},
		},
		"Range ignored": {
			answers:    []answer{{cutAt: 300}, {ignoreRange: true}},
			wantRanges: []string{"", "bytes=300-"},
		},
		"throttled, then read on": {
			answers:    []answer{{cutAt: 300}, {status: http.StatusTooManyRequests}, {}},
			wantRanges: []string{"", "bytes=300-", "bytes=300-"},
		},
		"cut at the same byte every time": {
			answers:    []answer{{cutAt: 300}},
			wantRanges: []string{"", "bytes=300-", "bytes=300-", "bytes=300-"},
			wantErr:    "4 attempts failed",
		},
		// A few bytes per body is no progress: the policy's attempts bound
		// the GETs as if none came.
		"a little further each time": {
			answers:    []answer{{cutAfter: 100}},
			wantRanges: []string{"", "bytes=100-", "bytes=200-", "bytes=300-"},
			wantErr:    "4 attempts failed",
		},
		"wrong Content-Range": {
			answers:    []answer{{cutAt: 300}, {badRange: "bytes 0-999/1000"}},
			wantRanges: []string{"", "bytes=300-"},
			wantErr:    `answered a read from byte 300 with Content-Range "bytes 0-999/1000"`,
		},
		"gone on resume": {
			answers:    []answer{{cutAt: 300}, {status: http.StatusNotFound}},
			wantRanges: []string{"", "bytes=300-"},
			wantErr:    "not found",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var ranges []string
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n := len(ranges)
				ranges = append(ranges, r.Header.Get("Range"))
				mu.Unlock()
				a := tc.answers[min(n, len(tc.answers)-1)]
				if a.status != 0 {
					w.WriteHeader(a.status)
					return
				}
				from := 0
				if rg := r.Header.Get("Range"); rg != "" && !a.ignoreRange {
					from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
					cr := fmt.Sprintf("bytes %d-%d/%d", from, len(blob)-1, len(blob))
					if a.badRange != "" {
						cr = a.badRange
					}
					w.Header().Set("Content-Range", cr)
					w.Header().Set("Content-Length", strconv.Itoa(len(blob)-from))
					w.WriteHeader(http.StatusPartialContent)
				} else {
					w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
				}
				if a.cutAfter != 0 {
					a.cutAt = from + a.cutAfter
				}
				if a.cutAt == 0 {
					_, _ = w.Write(blob[from:])
					return
				}
				_, _ = w.Write(blob[from:a.cutAt])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection is cut
			})
			c := New(reg.Host, nil, Options{Insecure: true, Retry: quickRetry})
			body, size, err := c.GetBlob(hangGuard(t), "app", d)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			got, err := io.ReadAll(body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("read error = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil || size != int64(len(blob)) || !bytes.Equal(got, blob) {
				t.Errorf("read %d bytes (size %d), error %v; want the blob whole", len(got), size, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(ranges, ",") != strings.Join(tc.wantRanges, ",") {
				t.Errorf("GETs with Range %q, want %q", ranges, tc.wantRanges)
			}
		})
	}
}
