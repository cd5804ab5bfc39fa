package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangGuard bounds a test of a hang: a client that hangs fails the test
// with a deadline error instead of holding the run.
func hangGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestServerNeverAnswers: a server that accepts and never answers ends in
// a timeout error from the client's own deadlines, after its retries.
func TestServerNeverAnswers(t *testing.T) {
	tests := map[string]func(t *testing.T) string{
		// Accepts TCP connections, then says nothing, not even TLS.
		"silent socket": func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var conns []net.Conn
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				l.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Close()
				}
			})
			return l.Addr().String()
		},
		// Reads the request, then never writes the answer.
		"silent handler": func(t *testing.T) string {
			return startHost(t, "127.0.0.1", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }).Host
		},
	}
	for name, server := range tests {
		t.Run(name, func(t *testing.T) {
			addr := server(t)
			opts := Options{Insecure: true, DialTimeout: 50 * time.Millisecond, HeaderTimeout: 50 * time.Millisecond, Retry: quickRetry}
			c := New(addr, nil, opts)
			ctx := hangGuard(t)
			_, _, err := c.GetManifest(ctx, "app", "v1")
			var ne net.Error
			if ctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("GetManifest error = %v, want the client's own timeout", err)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the registry %s", err, addr)
			}
		})
	}
}

// TestBodyStalls: a body that stops arriving after its headers ends in a
// stall error, and is fetched again like a cut connection.
func TestBodyStalls(t *testing.T) {
	tests := map[string]struct {
		stalls   int32 // how many answers stall
		wantHits int32
		wantErr  bool
	}{
		"stalls once, then served": {stalls: 1, wantHits: 2},
		"stalls every time":        {stalls: 100, wantHits: DefaultRetryAttempts, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				w.Header().Set("Content-Length", strconv.Itoa(len(testManifest)))
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if n > tc.stalls {
					_, _ = w.Write(testManifest)
					return
				}
				_, _ = w.Write(testManifest[:10])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			})
			c := New(reg.Host, nil, Options{Insecure: true, IdleTimeout: 50 * time.Millisecond, Retry: quickRetry})
			ctx := hangGuard(t)
			raw, _, err := c.GetManifest(ctx, "app", "v1")
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "stalled") || ctx.Err() != nil {
					t.Errorf("GetManifest error = %v, want a stall", err)
				}
			} else if err != nil || string(raw) != string(testManifest) {
				t.Errorf("GetManifest = %q, %v; want the manifest", raw, err)
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("registry saw %d requests, want %d", got, tc.wantHits)
			}
		})
	}
}

// TestTagsBounds: a tags listing whose Link never ends, or loops, or
// brings more tags than any repository holds, ends in a short error.
func TestTagsBounds(t *testing.T) {
	bigPage := make([]string, 250_000)
	for i := range bigPage {
		bigPage[i] = fmt.Sprintf(`"t%d"`, i)
	}
	tests := map[string]struct {
		page     func(last int) (body string, link string)
		want     string
		wantHits int
	}{
		"endless pages": {
			page: func(last int) (string, string) {
				return fmt.Sprintf(`{"tags":["t%d"]}`, last), fmt.Sprintf(`</v2/app/tags/list?last=%d>; rel="next"`, last+1)
			},
			want: "more than 10000 pages", wantHits: MaxTagPages,
		},
		"a Link back to the first page": {
			page: func(int) (string, string) { return `{"tags":["a"]}`, `</v2/app/tags/list>; rel="next"` },
			want: "tags Link leads back to a page already read", wantHits: 1,
		},
		"a million tags and more": {
			page: func(last int) (string, string) {
				return `{"tags":[` + strings.Join(bigPage, ",") + `]}`, fmt.Sprintf(`</v2/app/tags/list?last=%d>; rel="next"`, last+1)
			},
			want: "more than 1000000 tags", wantHits: 5,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				last, _ := strconv.Atoi(r.URL.Query().Get("last"))
				body, link := tc.page(last)
				w.Header().Set("Link", link)
				_, _ = io.WriteString(w, body)
			})
			c := New(reg.Host, nil, Options{Insecure: true})
			tags, err := c.Tags(hangGuard(t), "app", 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Tags = %d tags, error %v; want an error saying %q", len(tags), err, tc.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
			if n := reg.Hits(http.MethodGet, "/v2/app/tags/list"); n != tc.wantHits {
				t.Errorf("%d pages requested, want %d", n, tc.wantHits)
			}
		})
	}
}

// TestHugeManifest: a 200 MB "manifest", streamed by the stub, is refused
// after the 4 MiB limit, neither read whole nor quoted.
func TestHugeManifest(t *testing.T) {
	const size = 200 << 20
	for _, declared := range []bool{false, true} {
		t.Run(fmt.Sprintf("content-length declared %v", declared), func(t *testing.T) {
			var sent atomic.Int64
			done := make(chan struct{})
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
				defer close(done)
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(size))
				}
				chunk := []byte(strings.Repeat(`{"a":"`, 1<<20/6))
				for sent.Load() < size {
					n, err := w.Write(chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			c := New(reg.Host, nil, Options{Insecure: true})
			_, _, err := c.GetManifest(hangGuard(t), "app", "v1")
			if err == nil || !strings.Contains(err.Error(), "over the limit of 4 MiB") {
				t.Fatalf("GetManifest error = %v, want the 4 MiB limit", err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error is %d bytes long: %.300q", len(err.Error()), err)
			}
			<-done
			if n := sent.Load(); n >= size {
				t.Errorf("the stub sent all %d bytes: the client read the whole body", n)
			}
		})
	}
}

// TestErrorBodies: the registry's text in an error is escaped and short,
// whatever the body holds.
func TestErrorBodies(t *testing.T) {
	long := strings.Repeat("A", 5000)
	tests := map[string]struct {
		contentType, body string
		want              []string
	}{
		"escape sequences in a registry error": {
			contentType: "application/json",
			body:        `{"errors":[{"code":"BAD\u001b[0m","message":"\u001b]0;pwned\u0007\u001b[2J` + long + `"}]}`,
			want:        []string{`BAD\x1b[0m: \x1b]0;pwned\x07\x1b[2JAAA`, "...", "(HTTP 400)"},
		},
		"plain text": {
			contentType: "text/plain; charset=utf-8",
			body:        "bad\r\n\x1b[1mrequest\xff\u202e",
			want:        []string{`bad\x0d\x0a\x1b[1mrequest\xff\u202e (HTTP 400)`},
		},
		"a body of a megabyte": {
			contentType: "application/json",
			body:        `{"errors":[{"code":"X","message":"` + strings.Repeat(long, 200) + `"}]}`,
			want:        []string{"Bad Request (HTTP 400)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tc.body)
			})
			c := New(reg.Host, nil, Options{Insecure: true})
			_, _, err := c.GetManifest(context.Background(), "app", "v1")
			if err == nil {
				t.Fatal("GetManifest succeeded")
			}
			msg := err.Error()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if len(msg) > 400 {
				t.Errorf("error is %d bytes long", len(msg))
			}
			for _, r := range msg {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e {
					t.Errorf("error %q holds the raw character %U", msg, r)
				}
			}
		})
	}
}

func TestEscapeText(t *testing.T) {
	tests := map[string]struct {
		in   string
		max  int
		want string
	}{
		"plain":          {"manifest unknown", 200, "manifest unknown"},
		"escape":         {"\x1b[31mred\x1b[0m", 200, `\x1b[31mred\x1b[0m`},
		"newlines":       {"a\r\nb\tc", 200, `a\x0d\x0ab\x09c`},
		"c1 control":     {"a\u009bb", 200, `a\x9bb`},
		"bidi override":  {"abc\u202eexe.txt", 200, `abc\u202eexe.txt`},
		"invalid utf-8":  {"a\xffb", 200, `a\xffb`},
		"accents stay":   {"réseau 東京", 200, "réseau 東京"},
		"cut to max":     {"abcdef", 3, "abc..."},
		"exactly max":    {"abc", 3, "abc"},
		"escape not cut": {"\x1b\x1b", 1, `\x1b...`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := escapeText(tc.in, tc.max); got != tc.want {
				t.Errorf("escapeText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

// TestUnknownRepository: tags of a repository the registry does not know
// says so, rather than reading like a missing tag.
func TestUnknownRepository(t *testing.T) {
	reg := startHost(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"team/app"}}]}`)
	})
	c := New(reg.Host, nil, Options{Insecure: true})
	_, err := c.Tags(context.Background(), "team/app", 0)
	want := reg.Host + "/team/app: repository not found on " + reg.Host
	if err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
		t.Errorf("Tags error = %v, want %q (and ErrNotFound)", err, want)
	}
}
