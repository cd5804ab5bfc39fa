package copy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// A foreign layer is read from its URLs only: http(s) ones, the first that
// serves it. (Reading on after a cut is registry.ReadURL's.)
func TestForeignSource(t *testing.T) {
	layer := []byte("a foreign layer's bytes")
	srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ranged":
			http.ServeContent(w, r, "layer", time.Time{}, bytes.NewReader(layer))
		case "/whole":
			_, _ = w.Write(layer)
		default:
			http.NotFound(w, r)
		}
	})
	b := registry.Descriptor{Digest: digest.FromBytes(layer), Size: int64(len(layer))}
	for name, tc := range map[string]struct {
		urls    []string
		wantErr string
	}{
		"served":               {urls: []string{srv.URL + "/whole"}},
		"second URL":           {urls: []string{srv.URL + "/gone", srv.URL + "/whole"}},
		"served with Range":    {urls: []string{srv.URL + "/ranged"}},
		"not found":            {urls: []string{srv.URL + "/gone"}, wantErr: "404 Not Found"},
		"every URL named":      {urls: []string{srv.URL + "/a", srv.URL + "/b"}, wantErr: srv.URL + "/a: 404 Not Found; " + srv.URL + "/b: 404 Not Found"},
		"file URL refused":     {urls: []string{"file:///etc/passwd"}, wantErr: `URL "file:///etc/passwd": only http and https URLs are fetched`},
		"relative URL refused": {urls: []string{"/layer"}, wantErr: "only http and https"},
	} {
		t.Run(name, func(t *testing.T) {
			s := &foreignSource{urls: tc.urls}
			body, total, err := s.openBlob(context.Background(), b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			got, _ := io.ReadAll(body)
			if total != b.Size || string(got) != string(layer) {
				t.Errorf("total %d body %q; want the layer", total, got)
			}
		})
	}
}

// A foreign URL is no way into this machine's link-local services: an
// unspecified or link-local address (0.0.0.0 reaches loopback on Linux) is
// never dialled, and the server behind it sees nothing.
func TestForeignSourceLinkLocalRefused(t *testing.T) {
	var hits int
	srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) { hits++ })
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	s := &foreignSource{urls: []string{"http://0.0.0.0:" + port + "/layer"}}
	_, _, err := s.openBlob(context.Background(), registry.Descriptor{Digest: digest.FromString("x"), Size: 1})
	if err == nil || !strings.Contains(err.Error(), "link-local or unspecified") {
		t.Fatalf("error %v, want the address refused", err)
	}
	if hits != 0 {
		t.Errorf("the server behind 0.0.0.0 saw %d requests, want 0", hits)
	}
}
