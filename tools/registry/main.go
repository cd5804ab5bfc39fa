// Command mlist-registry serves a registry implementation in-process from
// pinned Go modules, so tests and demos can run docker-mlist against more
// than the Debian docker-registry: the CNCF distribution v3 registry,
// go-containerregistry's pkg/registry with the OCI referrers API, or
// olareg. Its validate subcommand checks content with
// go-containerregistry's validator (see runValidate).
//
// Usage:
//
//	mlist-registry [-impl distribution|ggcr|olareg] [-addr 127.0.0.1:0] [-dir DIR] [-log]
//	mlist-registry validate [-ca FILE] REF|oci:DIR|oci-archive:FILE|docker-archive:FILE
//
// -dir keeps distribution's storage, or ggcr's blobs (its manifests stay in
// memory), in a directory instead of memory.
//
// After binding it prints exactly one line, "listening on http://HOST:PORT",
// to stdout and serves plain HTTP until SIGINT or SIGTERM. With -log every
// request is written to stderr once its response is complete, in the
// combined log format distribution's own access log uses:
//
//	127.0.0.1 - - [29/Nov/2026:07:00:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "docker-mlist/1.0"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/olareg/olareg"
	olaregcfg "github.com/olareg/olareg/config"
	"github.com/sirupsen/logrus"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "validate" {
		if err := runValidate(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "mlist-registry validate:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mlist-registry:", err)
		os.Exit(1)
	}
}

func run() error {
	impl := flag.String("impl", "distribution", "registry implementation: distribution (CNCF distribution v3), ggcr (go-containerregistry, referrers API on) or olareg")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	dir := flag.String("dir", "", "storage directory (default: in memory); ggcr keeps only blobs there, manifests in memory")
	logRequests := flag.Bool("log", false, "log every request to stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: only flags are accepted", flag.Arg(0))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var h http.Handler
	switch *impl {
	case "distribution":
		h = distribution(ctx, *dir)
	case "ggcr":
		opts := []ggcr.Option{ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0))}
		if *dir != "" {
			opts = append(opts, ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(*dir)))
		}
		h = ggcr.New(opts...)
	case "olareg":
		h = olaregHandler(*dir)
	default:
		return fmt.Errorf("-impl %q: accepted are distribution, ggcr and olareg", *impl)
	}
	if *logRequests {
		h = accessLog(h, os.Stderr)
	}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Printf("listening on http://%s\n", l.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// distribution returns the CNCF distribution v3 application: deletes
// enabled (as the e2e registries have them), no auth, in memory unless dir
// is given.
func distribution(ctx context.Context, dir string) http.Handler {
	// The application logs through logrus; only problems are of interest.
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetOutput(os.Stderr)
	storage := configuration.Storage{"inmemory": configuration.Parameters{}}
	if dir != "" {
		storage = configuration.Storage{"filesystem": configuration.Parameters{"rootdirectory": dir}}
	}
	storage["delete"] = configuration.Parameters{"enabled": true}
	storage["maintenance"] = configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}}
	cfg := &configuration.Configuration{Storage: storage}
	cfg.HTTP.Secret = "mlist-registry"
	return handlers.NewApp(ctx, cfg)
}

// accessLog writes one combined-log-format line per request after the
// response is complete, so a reader that sees a line knows the request is
// done.
func accessLog(next http.Handler, w io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		line := fmt.Sprintf("%s - - [%s] %q %d %d %q %q\n", host, time.Now().Format("02/Jan/2006:15:04:05 -0700"),
			r.Method+" "+r.RequestURI+" "+r.Proto, rec.status, rec.size, r.Referer(), r.UserAgent())
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line)
	})
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	size   int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.size += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushes,
// deadlines), which distribution uses for blob uploads.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// olaregHandler returns olareg with pushes and deletes enabled, in memory
// unless dir is given.
func olaregHandler(dir string) http.Handler {
	on := true
	cfg := olaregcfg.Config{
		Storage: olaregcfg.ConfigStorage{StoreType: olaregcfg.StoreMem},
		API:     olaregcfg.ConfigAPI{PushEnabled: &on, DeleteEnabled: &on},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if dir != "" {
		cfg.Storage = olaregcfg.ConfigStorage{StoreType: olaregcfg.StoreDir, RootDir: dir}
	}
	return olareg.New(cfg)
}
