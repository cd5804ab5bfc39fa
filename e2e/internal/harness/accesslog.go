package harness

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// accessLogRE matches gorilla/handlers' combined log format, which
// distribution writes to stdout once per request:
//
//	127.0.0.1 - alice [25/Nov/2026:14:38:32 +0000] "PUT /v2/app/manifests/v1 HTTP/1.1" 201 0 "" "curl/7.88.1"
var accessLogRE = regexp.MustCompile(`^\S+ \S+ .*?\[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) `)

const syncQuery = "e2e-sync="

// markerTimeout bounds the wait for a marker request's log line.
const markerTimeout = 60 * time.Second

// AccessLog is the request log of a registry process, parsed from its
// access log. A registry writes a request's line after sending the
// response, so every read first makes a marker request (GET /v2/?e2e-sync=N,
// logged whatever it answers, 401 included) and waits until its line
// arrives: every request answered before the read is then in the log,
// however loaded the machine.
type AccessLog struct {
	mu   sync.Mutex
	reqs []Request
	seq  atomic.Int64

	url  string // the registry's base URL, for the marker requests
	http *http.Client
	done <-chan struct{} // closed when the process has exited
}

// SetEndpoint says where the marker requests go: the registry's base URL
// (scheme and host), through c. done is closed when the process exits.
func (l *AccessLog) SetEndpoint(url string, c *http.Client, done <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.url, l.http, l.done = url, c, done
}

// Add records line if it is an access log line, and reports whether it was.
func (l *AccessLog) Add(line string) bool {
	m := accessLogRE.FindStringSubmatch(line)
	if m == nil {
		return false
	}
	status, _ := strconv.Atoi(m[3])
	path, query, _ := strings.Cut(m[2], "?")
	l.mu.Lock()
	l.reqs = append(l.reqs, Request{Method: m[1], Path: path, Query: query, Status: status})
	l.mu.Unlock()
	return true
}

// Requests returns every request logged since start or the last Reset.
func (l *AccessLog) Requests() Requests { return l.RequestsSince(0) }

// Mark returns a position in the log for RequestsSince.
func (l *AccessLog) Mark() int {
	l.sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// RequestsSince returns the requests answered after Mark returned mark,
// without the marker requests.
func (l *AccessLog) RequestsSince(mark int) Requests {
	l.sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out Requests
	for _, q := range l.reqs[min(mark, len(l.reqs)):] {
		if !strings.HasPrefix(q.Query, syncQuery) {
			out = append(out, q)
		}
	}
	return out
}

// Reset forgets the requests logged so far.
func (l *AccessLog) Reset() {
	l.sync()
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

func (l *AccessLog) exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *AccessLog) sync() {
	l.mu.Lock()
	url, c, done := l.url, l.http, l.done
	l.mu.Unlock()
	if c == nil || l.exited() {
		return
	}
	marker := syncQuery + strconv.FormatInt(l.seq.Add(1), 10)
	resp, err := c.Get(url + "/v2/?" + marker)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A log that never shows the marker would make every "nothing
	// happened" check pass: that is a failure, not a short read.
	deadline := time.Now().Add(markerTimeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for i := len(l.reqs) - 1; i >= 0; i-- {
			if l.reqs[i].Query == marker {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	panic(fmt.Sprintf("harness: the access log of %s did not show the marker request %s within %v", url, marker, markerTimeout))
}
