package proxy

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Faults are what a Proxy does wrong on purpose. Every decision is drawn
// from Seed and the kind of request (method, tag or kind of path, query
// keys), counting how many of that kind the proxy saw before; repository
// names, digests and upload session IDs are left out. So one seed makes the
// same number of faults of each kind for the same command, even though the
// harness's images get new digests on every run and tests use repositories
// of their own; a retry of a request meets a fresh draw. Which of several
// concurrent requests of one kind meets a fault depends on their order.
type Faults struct {
	// Seed selects the draws.
	Seed uint64
	// StatusRate is the fraction of requests answered with one of Statuses
	// instead of being forwarded (the request body is read first, as a
	// gateway would).
	StatusRate float64
	// Statuses are the answers StatusRate picks from; empty means 429, 500,
	// 502 and 503. A 429 carries Retry-After: 0 or 1.
	Statuses []int
	// CutRate is the fraction of blob GET responses (200 or 206) whose
	// connection is closed part-way through the body, after a drawn number
	// of bytes and before the last one.
	CutRate float64
	// FailAll, when non-zero, answers every request with this status.
	FailAll int
	// Corrupt lists blob digests served with one byte flipped (same length,
	// the same byte on every read, Range reads included).
	Corrupt []string
	// CorruptAll flips a byte of every blob served.
	CorruptAll bool
	// FailFirst, when non-zero, answers the first of each distinct request
	// (method, path and query, repository and digests included, upload
	// session and _state left out) with this status: every request a
	// command makes must be tried again once.
	FailFirst int
	// CutFirst cuts the body of the first response to each blob GET that
	// would send it (200 or 206), and no later one.
	CutFirst bool
	// FailUploads, when non-zero, answers every request that sends a
	// blob's bytes into an upload session (PATCH, and PUT) with this
	// status; sessions open as usual.
	FailUploads int
}

// DefaultStatuses are the statuses StatusRate picks from by default.
var DefaultStatuses = []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// Fault kinds in the injection log.
const (
	KindStatus  = "status"  // answered with a status instead of forwarding
	KindCut     = "cut"     // body cut after Bytes bytes
	KindCorrupt = "corrupt" // byte at blob offset Bytes flipped
)

// Injection is one fault the proxy injected.
type Injection struct {
	Kind   string
	Method string
	Path   string
	Query  string
	Status int   // KindStatus: the status sent
	Bytes  int64 // KindCut: body bytes sent before the cut; KindCorrupt: offset of the flipped byte
}

func (i Injection) String() string {
	p := i.Path
	if i.Query != "" {
		p += "?" + i.Query
	}
	switch i.Kind {
	case KindStatus:
		return fmt.Sprintf("%s %s: answered %d", i.Method, p, i.Status)
	case KindCut:
		return fmt.Sprintf("%s %s: body cut after %d bytes", i.Method, p, i.Bytes)
	default:
		return fmt.Sprintf("%s %s: byte %d flipped", i.Method, p, i.Bytes)
	}
}

// SetFaults replaces the faults to inject from the next request on.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// Injected returns the faults injected since start or Reset, in order.
func (p *Proxy) Injected() []Injection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Injection(nil), p.injected...)
}

// InjectedCount counts the injected faults of one kind ("" for all).
func (p *Proxy) InjectedCount(kind string) int {
	n := 0
	for _, i := range p.Injected() {
		if kind == "" || i.Kind == kind {
			n++
		}
	}
	return n
}

func (p *Proxy) record(i Injection) {
	p.mu.Lock()
	p.injected = append(p.injected, i)
	p.mu.Unlock()
}

var (
	blobPathRE = regexp.MustCompile(`^/v2/.+/blobs/([a-z0-9]+:[a-f0-9]+)$`)
	repoPathRE = regexp.MustCompile(`^/v2/.+/(manifests|blobs|tags|referrers)/`)
	uploadRE   = regexp.MustCompile(`/blobs/uploads/[^/]+$`)
	digestRE   = regexp.MustCompile(`[a-z0-9]+:[a-f0-9]{32,}`)
)

// requestKey is what a request's draws depend on besides the seed: the
// method, the path with the repository, digests and upload session left
// out, and the query's keys with digests left out of the values.
func requestKey(r *http.Request) string {
	path := repoPathRE.ReplaceAllString(r.URL.Path, "/v2/*/$1/")
	path = uploadRE.ReplaceAllString(path, "/blobs/uploads/*")
	path = digestRE.ReplaceAllString(path, "*")
	q := r.URL.Query()
	q.Del("_state")
	if q.Has("from") {
		q.Set("from", "*")
	}
	for k, vs := range q {
		for i := range vs {
			vs[i] = digestRE.ReplaceAllString(vs[i], "*")
		}
		q[k] = vs
	}
	return r.Method + " " + path + "?" + q.Encode()
}

// draws returns the faults in force and the request's draw function: draw(label) is a number in
// [0, 1) fixed by the seed, the request and its occurrence, and label.
// and whether the request is the first of its exact kind (for FailFirst).
func (p *Proxy) draws(r *http.Request) (Faults, func(label string) float64, bool) {
	key := requestKey(r)
	q := r.URL.Query()
	q.Del("_state")
	exact := r.Method + " " + uploadRE.ReplaceAllString(r.URL.Path, "/blobs/uploads/*") + "?" + q.Encode()
	p.mu.Lock()
	f := p.faults
	n := p.seen[key]
	p.seen[key] = n + 1
	first := p.seen["exact "+exact] == 0
	p.seen["exact "+exact]++
	p.mu.Unlock()
	return f, func(label string) float64 {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%d\x00%s", f.Seed, key, n, label)))
		return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	}, first
}

// inject answers r with an injected status and reports whether it did.
func (p *Proxy) inject(w http.ResponseWriter, r *http.Request, f Faults, draw func(string) float64, first bool) bool {
	// Drawn whatever the settings, so that each request's later draws do not
	// depend on whether this one is used.
	statusDraw, pick, after := draw("status"), draw("pick"), draw("retry-after")
	status := f.FailAll
	if status == 0 && f.StatusRate > 0 && statusDraw < f.StatusRate {
		statuses := f.Statuses
		if len(statuses) == 0 {
			statuses = DefaultStatuses
		}
		status = statuses[int(pick*float64(len(statuses)))]
	}
	if status == 0 && first {
		status = f.FailFirst
	}
	if status == 0 && (r.Method == http.MethodPut || r.Method == http.MethodPatch) && uploadRE.MatchString(r.URL.Path) {
		status = f.FailUploads
	}
	if status == 0 {
		return false
	}
	_, _ = io.Copy(io.Discard, r.Body)
	writeStatus(w, status, after < 0.5)
	p.record(Injection{Kind: KindStatus, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status})
	return true
}

// writeStatus answers like the thing that would send the status: the
// registry's JSON errors for 429, 500 and 503, an nginx page for 502.
func writeStatus(w http.ResponseWriter, status int, retryNow bool) {
	h := w.Header()
	switch status {
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "1")
		if retryNow {
			h.Set("Retry-After", "0")
		}
	case http.StatusBadGateway:
		h.Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		return
	}
	code := "UNKNOWN"
	switch status {
	case http.StatusTooManyRequests:
		code = "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		code = "UNAVAILABLE"
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"fault injected by the e2e proxy (%d)"}]}`+"\n", code, status)
}

// bodyFault returns a writer that cuts or corrupts r's response body, or
// nil when r is not a blob GET or draws no fault.
func (p *Proxy) bodyFault(w *recorder, r *http.Request, f Faults, draw func(string) float64) http.ResponseWriter {
	if r.Method != http.MethodGet {
		return nil
	}
	m := blobPathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return nil
	}
	cut, where := draw("cut"), draw("cut-at")
	bw := &bodyWriter{recorder: w, p: p, r: r, cutAt: -1, flipAt: -1}
	bw.cutDraw = where
	bw.cut = f.CutRate > 0 && cut < f.CutRate
	bw.cutFirst = f.CutFirst
	if f.CorruptAll || slices.Contains(f.Corrupt, m[1]) {
		bw.corrupt = true
		// The same byte of a blob on every read: a corrupt source stays so.
		sum := sha256.Sum256([]byte(m[1]))
		bw.flipDraw = float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	}
	if !bw.cut && !bw.cutFirst && !bw.corrupt {
		return nil
	}
	return bw
}

// bodyWriter passes a response through, flipping one byte and/or closing the
// connection part-way through the body.
type bodyWriter struct {
	*recorder
	p *Proxy
	r *http.Request

	cut, corrupt      bool
	cutFirst          bool // cut unless a response of this blob was cut before
	cutDraw, flipDraw float64
	active            bool
	cutAt, flipAt     int64 // body offsets; -1 for none
	written           int64
}

func (b *bodyWriter) WriteHeader(code int) {
	if code == http.StatusOK || code == http.StatusPartialContent {
		b.active = true
		size, _ := strconv.ParseInt(b.Header().Get("Content-Length"), 10, 64)
		if b.cutFirst {
			b.p.mu.Lock()
			if b.p.seen["cut "+b.r.URL.Path] == 0 {
				b.p.seen["cut "+b.r.URL.Path] = 1
				b.cut = true
			}
			b.p.mu.Unlock()
		}
		if b.cut {
			switch {
			case size >= 2:
				b.cutAt = 1 + int64(b.cutDraw*float64(size-1)) // 1 .. size-1
			case size <= 0:
				b.cutAt = 1 + int64(b.cutDraw*4096)
			}
		}
		if b.corrupt {
			start, total := int64(0), size
			if code == http.StatusPartialContent {
				start, total = contentRange(b.Header().Get("Content-Range"))
			}
			if total > 0 {
				if off := int64(b.flipDraw * float64(total)); off >= start && off-start < size {
					b.flipAt = off - start
					b.p.record(Injection{Kind: KindCorrupt, Method: b.r.Method, Path: b.r.URL.Path, Query: b.r.URL.RawQuery, Bytes: off})
				}
			}
		}
	}
	b.recorder.WriteHeader(code)
}

// contentRange parses "bytes START-END/TOTAL".
func contentRange(h string) (start, total int64) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, -1
	}
	rng, tot, _ := strings.Cut(rest, "/")
	s, _, _ := strings.Cut(rng, "-")
	start, err1 := strconv.ParseInt(s, 10, 64)
	total, err2 := strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, -1
	}
	return start, total
}

func (b *bodyWriter) Write(data []byte) (int, error) {
	if !b.active {
		return b.recorder.Write(data)
	}
	if b.flipAt >= b.written && b.flipAt < b.written+int64(len(data)) {
		data = slices.Clone(data)
		data[b.flipAt-b.written] ^= 0xff
	}
	if b.cutAt >= 0 && b.written+int64(len(data)) >= b.cutAt {
		n, _ := b.recorder.Write(data[:b.cutAt-b.written])
		b.written += int64(n)
		b.Flush()
		b.p.record(Injection{Kind: KindCut, Method: b.r.Method, Path: b.r.URL.Path, Query: b.r.URL.RawQuery, Bytes: b.written})
		// Closes the connection without a complete body; the server does not
		// log this panic.
		panic(http.ErrAbortHandler)
	}
	n, err := b.recorder.Write(data)
	b.written += int64(n)
	return n, err
}
