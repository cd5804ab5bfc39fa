// Package copy moves manifests and blobs between repositories and registries.
package copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// Endpoint is a repository reached through a registry client.
type Endpoint struct {
	Client     *registry.Client
	Repository string
	// New marks a destination repository without tags (the registry says it
	// does not exist): manifests are not checked for before they are
	// written, and blobs are asked for with a mount from the repository
	// itself, which opens the upload session when the blob is missing, so an
	// interrupted copy's blobs are not sent again.
	New bool
}

// String is host/repository.
func (e Endpoint) String() string { return e.Client.Host + "/" + e.Repository }

// Manifest is one manifest to transfer. Raw may be nil: it is then read from
// the source, and only if the destination lacks it.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	// Size is what the descriptor naming the manifest says, 0 if none did.
	Size int64
	Raw  []byte
	// Tag, when set, is where the manifest is put instead of its digest.
	Tag string
}

// Transfer makes manifest m of src present in dst with the same digest: a
// HEAD when dst already has it; otherwise each missing blob is mounted (same
// registry) or streamed (another registry, or a registry that declines or
// forbids the mount), a list's entries are transferred first, and the
// manifest is put by digest (or under m.Tag) with its exact bytes, last.
// Every manifest and streamed blob is checked against the descriptor that
// named it (digest and size); a mismatch fails with a *CorruptError before
// the manifest is put. It runs DefaultJobs blob streams at once; a whole
// copy with options is CopySides.
func Transfer(ctx context.Context, src, dst Endpoint, m Manifest, stats *Stats) error {
	return TransferAll(ctx, dst, []TransferEntry{{Source: src, Manifest: m}}, stats)
}

// TransferEntry is a manifest to transfer and the repository it is read from.
type TransferEntry struct {
	Source   Endpoint
	Manifest Manifest
}

// TransferAll is Transfer of several manifests into one repository, as one
// graph: a digest they share, at whatever level of nesting and however
// often it repeats, is looked for, read and written once, and every
// request of the graph runs under one limit (SmallJobs).
func TransferAll(ctx context.Context, dst Endpoint, entries []TransferEntry, stats *Stats) error {
	if stats == nil {
		stats = &Stats{}
	}
	newTransferEngine := func(src Endpoint) *engine {
		e := newEngine(&registrySource{ep: src}, &registryDestination{ep: dst}, Options{Jobs: DefaultJobs}, stats)
		// Transfers share one stream limit; the small requests are not
		// queued behind it.
		e.streams, e.smallLimit = transferStreams, SmallJobs
		return e
	}
	engines := map[Endpoint]*engine{}
	items := make([]transferItem, len(entries))
	for i, t := range entries {
		if engines[t.Source] == nil {
			engines[t.Source] = newTransferEngine(t.Source)
		}
		items[i] = transferItem{e: engines[t.Source], m: t.Manifest}
	}
	if len(items) == 0 {
		return nil
	}
	return items[0].e.transferAll(ctx, dst, items)
}

// transferStreams bounds the blob streams of every Transfer call of the
// process to DefaultJobs (no option sets it); CopySides has its own, from
// Options.Jobs.
var transferStreams = make(chan struct{}, DefaultJobs)

// transferItem is a manifest to transfer and the engine that reads it.
type transferItem struct {
	e *engine
	m Manifest
}

// transfer makes m of e's source present in dst (see Transfer).
func (e *engine) transfer(ctx context.Context, dst Endpoint, m Manifest) error {
	return e.transferAll(ctx, dst, []transferItem{{e: e, m: m}})
}

// transferAll reads the graphs of items as one, skipping what dst holds
// (a manifest present has everything below it), then writes what is
// missing with e's destination: blobs, then manifests entries first.
func (e *engine) transferAll(ctx context.Context, dst Endpoint, items []transferItem) error {
	w := newGraphWalk(ctx, e.smallLimit)
	if !dst.New {
		w.probe = func(ctx context.Context, n *node) (bool, error) {
			desc, err := dst.Client.HeadManifest(ctx, dst.Repository, n.Digest.String())
			switch {
			case err == nil:
				if n.Size > 0 && desc.Size > 0 && desc.Size != n.Size {
					return false, &CorruptError{Kind: "manifest", Digest: n.Digest, Source: dst.String(), Size: n.Size, GotSize: desc.Size}
				}
				return true, nil
			case errors.Is(err, registry.ErrNotFound):
				return false, nil
			}
			return false, err
		}
	}
	tops := make([]topNode, len(items))
	for i, it := range items {
		n := &node{Digest: it.m.Digest, MediaType: it.m.MediaType, Size: it.m.Size, Raw: it.m.Raw}
		tops[i] = topNode{n: w.add(it.e, n), tag: it.m.Tag}
	}
	if err := w.wait(); err != nil {
		return err
	}
	for _, t := range tops {
		if n := t.n; t.tag != "" && n.Raw == nil {
			// Present by digest, missing under its tag: read to be put.
			raw, mt, err := w.read(ctx, n.eng, n.Digest, n.Size)
			if err != nil {
				return err
			}
			if n.MediaType == "" {
				n.MediaType = manifestlist.MediaTypeOf(raw, mt)
			}
			n.Raw = raw
		}
	}
	return e.write(ctx, tops)
}

// checkManifest holds a manifest's bytes to the descriptor that named it.
func checkManifest(src string, m Manifest) error {
	if m.Size > 0 && int64(len(m.Raw)) != m.Size {
		return &CorruptError{Kind: "manifest", Digest: m.Digest, Source: src, Size: m.Size, GotSize: int64(len(m.Raw))}
	}
	if m.Digest != "" {
		v := newVerifier("manifest", src, m.Digest, int64(len(m.Raw)))
		_ = v.write(m.Raw)
		return v.check()
	}
	return nil
}

// Retry budget of a blob transfer: a transfer that meets a transient fault
// (an upload answered 429/5xx, a connection reset, a body cut) is restarted
// as a whole, on a new upload session, at most blobAttempts times in all,
// waiting retryBase, then twice as long each time, or what the registry asked
// for with Retry-After. Within one attempt, a source body cut part-way is
// read again from where it stopped at most maxResumes times.
const (
	blobAttempts = 4
	maxResumes   = 5
)

// retryBase is the first wait before a blob transfer is restarted.
var retryBase = time.Second

// blobFlights are the blob transfers under way in this process, by
// destination repository and digest. Manifests that share a blob (the empty
// config of artifacts, a base layer) wait for one transfer instead of racing
// a second into the same repository: that costs a second upload, and
// distribution may answer one of two concurrent commits of a digest with
// DIGEST_INVALID.
var blobFlights sync.Map // string -> *blobFlight

type blobFlight struct {
	done chan struct{}
	err  error
}

// registryBlob makes blob b of the engine's source present in the
// registry repository dst, once however many manifests ask for it at once.
func (e *engine) registryBlob(ctx context.Context, dst Endpoint, b registry.Descriptor) error {
	key := dst.Client.Host + "/" + dst.Repository + "@" + b.Digest.String()
	f := &blobFlight{done: make(chan struct{})}
	if prev, loaded := blobFlights.LoadOrStore(key, f); loaded {
		p := prev.(*blobFlight)
		select {
		case <-p.done:
			return p.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() {
		blobFlights.Delete(key)
		close(f.done)
	}()
	f.err = e.registryBlobOnce(ctx, dst, b)
	return f.err
}

func (e *engine) registryBlobOnce(ctx context.Context, dst Endpoint, b registry.Descriptor) error {
	stats := e.stats
	stats.add(func(s *Stats) { s.BlobsSeen++ })
	var up *registry.Upload
	rs, fromRegistry := e.src.(*registrySource)
	switch {
	case fromRegistry && rs.ep.Client.Host == dst.Client.Host:
		src := rs.ep
		// A mount answers 201 for a blob the target already links too, so no HEAD first.
		ok, u, err := dst.Client.MountBlob(ctx, dst.Repository, src.Repository, b.Digest)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			// Typically the destination's credentials may not read the
			// source (401/403): the source's own client can.
			dst.Client.Logf("%v; streaming %s through the source's credentials instead", err, b.Digest)
		case ok:
			stats.add(func(s *Stats) { s.Mounted++ })
			return nil
		default:
			dst.Client.Logf("mount %s from %s into %s declined; streaming it", b.Digest, src, dst)
			up = u
		}
	case dst.New:
		// A repository without tags may still hold blobs of an interrupted
		// copy: a mount from itself says so (201) with the request that
		// otherwise opens the upload session (202) used below. It almost
		// never does, so the source is opened meanwhile, on the blob's
		// stream: its read starts a round trip earlier (and costs a GET
		// only when a re-run finds the blob there).
		release, err := e.acquire(ctx, b)
		if err != nil {
			return err
		}
		defer release()
		found, u, r := e.mountOrOpen(ctx, dst, b)
		if found {
			stats.add(func(s *Stats) { s.BlobsPresent++ })
			return nil
		}
		return e.upload(ctx, dst, b, u, r, release)
	default:
		ok, err := dst.Client.BlobExists(ctx, dst.Repository, b.Digest)
		if err != nil {
			return err
		}
		if ok {
			stats.add(func(s *Stats) { s.BlobsPresent++ })
			return nil
		}
	}
	release, err := e.acquire(ctx, b)
	if err != nil {
		if up != nil {
			up.Cancel(ctx)
		}
		return err
	}
	defer release()
	return e.upload(ctx, dst, b, up, nil, release)
}

// mountOrOpen asks dst, a repository without tags, for b with a mount from
// itself and meanwhile opens b at the source. found: dst holds b already
// (r is closed); else up is the session the mount opened (nil after an
// error) and r the source, opened or failed.
func (e *engine) mountOrOpen(ctx context.Context, dst Endpoint, b registry.Descriptor) (found bool, up *registry.Upload, r *blobReader) {
	var ok bool
	var err error
	mounted := make(chan struct{})
	go func() {
		defer close(mounted)
		ok, up, err = dst.Client.MountBlob(ctx, dst.Repository, dst.Repository, b.Digest)
	}()
	r = newBlobReader(ctx, e.src, b, e.stats)
	_ = r.start() // kept in r: the upload's first attempt reports it
	<-mounted
	if err == nil && ok {
		r.close()
		return true, nil, nil
	}
	if err != nil {
		up = nil
	}
	return false, up, r
}

// upload streams b to dst on a stream the caller holds, and gives the
// stream back (release) once the source has been read whole: the wait for
// the registry to verify and commit the blob overlaps the next blob's read.
func (e *engine) upload(ctx context.Context, dst Endpoint, b registry.Descriptor, up *registry.Upload, r *blobReader, release func()) error {
	e.stats.startBlob(b.Digest, b.Size)
	defer e.stats.endBlob(b.Digest)
	if err := streamBlob(ctx, e.src, dst, b, up, r, release, e.stats); err != nil {
		return err
	}
	e.stats.add(func(s *Stats) { s.Uploaded++ })
	return nil
}

// streamBlob reads blob b from src and uploads it to dst, verifying every
// byte on the way, within the retry budget. up, when set, is an upload
// session already open, and r, when set, the source already opened (or
// failed to open) for the first attempt. read, when set, is called once
// the source has been read whole and verified.
func streamBlob(ctx context.Context, src source, dst Endpoint, b registry.Descriptor, up *registry.Upload, r *blobReader, read func(), stats *Stats) error {
	var last error
	chunkedRetry := false
	for attempt := 0; attempt < blobAttempts; attempt++ {
		if last != nil {
			wait, _ := registry.Transient(last)
			if wait == 0 {
				wait = retryBase << (attempt - 1)
			}
			dst.Client.Logf("copy blob %s to %s: %v; restarting in %s", b.Digest, dst, last, wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if up == nil {
			var err error
			if up, err = dst.Client.StartUpload(ctx, dst.Repository, b.Digest); err != nil {
				if r != nil {
					r.close()
					r = nil
				}
				if _, ok := registry.Transient(err); !ok {
					return err
				}
				last = err
				continue
			}
		}
		if r == nil {
			// The source is opened before the upload starts: a source that
			// fails costs no upload, and a registry that holds a lock while
			// it reads an upload body (go-containerregistry's in-memory one)
			// is not asked for a blob of its own meanwhile.
			r = newBlobReader(ctx, src, b, stats)
			_ = r.start() // kept in r, as failure()
		}
		r.read = read
		err := r.failure()
		if err == nil {
			if err = up.Put(ctx, b.Digest, b.Size, r); err == nil {
				err = r.verify()
			}
		}
		r.close()
		rerr := r.failure()
		r = nil
		if err == nil {
			return nil
		}
		up.Cancel(ctx)
		up = nil
		if rerr != nil && (ctx.Err() != nil || !errors.Is(rerr, context.Canceled)) {
			// The source failed, not the upload: its error is the cause.
			err = rerr
		}
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		if errors.Is(err, registry.ErrMonolithicRefused) && !chunkedRetry {
			// The client now uploads in chunks; this attempt does not count.
			dst.Client.Logf("%v; uploading in chunks", err)
			chunkedRetry = true
			attempt--
			continue
		}
		if _, ok := registry.Transient(err); !ok {
			return err
		}
		last = err
	}
	return fmt.Errorf("copy blob %s from %s to %s: %d attempts failed, the last: %w", b.Digest, src, dst, blobAttempts, last)
}

// ErrCorrupt is what a blob or manifest whose bytes do not match their
// descriptor (digest or size) fails with; it is never retried.
var ErrCorrupt = errors.New("content does not match its descriptor")

// CorruptError names a blob or manifest whose bytes do not match its
// descriptor, and where it was read.
type CorruptError struct {
	Kind   string // "blob", "manifest"
	Digest digest.Digest
	Source string
	// Got is the digest of the bytes read, or "" when their size was wrong.
	Got digest.Digest
	// Size is what the descriptor says; GotSize what the source served.
	Size, GotSize int64
}

// Error names the content, where it came from and what did not match.
func (e *CorruptError) Error() string {
	if e.Got != "" {
		return fmt.Sprintf("%s %s from %s is corrupt: the bytes served have digest %s", e.Kind, e.Digest, e.Source, e.Got)
	}
	return fmt.Sprintf("%s %s from %s does not match its descriptor: %d bytes where the descriptor says %d", e.Kind, e.Digest, e.Source, e.GotSize, e.Size)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// verifier hashes and counts what passes through it and reports content
// that does not match its descriptor: more bytes than the descriptor says
// as soon as they come, fewer or a wrong digest at the end.
type verifier struct {
	kind, source string
	want         digest.Digest
	size         int64
	n            int64
	h            digest.Digester
}

func newVerifier(kind, source string, want digest.Digest, size int64) *verifier {
	alg := want.Algorithm()
	if !alg.Available() {
		alg = digest.Canonical
	}
	return &verifier{kind: kind, source: source, want: want, size: size, h: alg.Digester()}
}

func (v *verifier) write(p []byte) error {
	v.n += int64(len(p))
	v.h.Hash().Write(p)
	if v.size >= 0 && v.n > v.size {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Size: v.size, GotSize: v.n}
	}
	return nil
}

// check is called at the end of the content.
func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Size: v.size, GotSize: v.n}
	}
	if got := v.h.Digest(); got != v.want {
		return &CorruptError{Kind: v.kind, Digest: v.want, Source: v.source, Got: got}
	}
	return nil
}

// verifyingReader passes r on and fails, instead of ending, when the
// content does not match the descriptor: a destination reading it never
// sees the end of a corrupt blob, so never commits it.
type verifyingReader struct {
	r   io.Reader
	v   *verifier
	err error // the mismatch found, if any
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if r.err = r.v.write(p[:n]); r.err != nil {
			return 0, r.err
		}
	}
	if err == io.EOF {
		if r.err = r.v.check(); r.err != nil {
			return n, r.err
		}
	}
	return n, err
}

// blobReader reads one blob from a registry for an upload: it resumes a
// body cut part-way with a Range request from where it stopped (or reads
// again from the start where the registry ignores Range), and fails rather
// than ends when the bytes do not match the descriptor.
type blobReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	src    source
	b      registry.Descriptor
	stats  *Stats

	mu      sync.Mutex
	body    io.ReadCloser
	v       *verifier // set by the maker
	resumes int
	err     error  // why reading failed, kept for every later Read
	done    bool   // the whole blob was read and verified
	read    func() // called when done, if set
}

func (r *blobReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	for {
		if r.v.n == r.b.Size {
			if err := r.finish(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				r.err = err
				return 0, err
			}
		}
		if rest := r.b.Size - r.v.n; int64(len(p)) > rest {
			p = p[:rest]
		}
		n, err := r.body.Read(p)
		if n > 0 {
			_ = r.v.write(p[:n]) // cannot overflow: p is cut to what is left
			r.stats.add(func(s *Stats) {
				s.BytesUploaded += int64(n)
				if b := s.active[r.b.Digest]; b != nil {
					b.Done += int64(n)
				}
			})
			return n, nil
		}
		if err == nil {
			continue
		}
		// Ended or cut before the descriptor's size: read again from here.
		r.body.Close()
		r.body = nil
		if r.resumes++; r.resumes > maxResumes {
			r.err = fmt.Errorf("read blob %s from %s: cut %d times, the last at byte %d of %d: %w", r.b.Digest, r.src, maxResumes, r.v.n, r.b.Size, err)
			return 0, r.err
		}
		r.src.logf("read blob %s from %s: %v at byte %d of %d; resuming", r.b.Digest, r.src, err, r.v.n, r.b.Size)
		if r.resumes > 1 {
			select {
			case <-time.After(retryBase << (r.resumes - 2)):
			case <-r.ctx.Done():
				r.err = r.ctx.Err()
				return 0, r.err
			}
		}
	}
}

// copyBuffer is the piece WriteTo moves at once.
const copyBuffer = 256 << 10

// WriteTo hands an upload the blob in pieces of up to copyBuffer: the HTTP
// transport would otherwise copy it 32 KiB at a time, with a system call,
// a lock and a progress update for each.
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// start opens the source, before the upload that reads it.
func (r *blobReader) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.v.n == r.b.Size {
		return nil // nothing to read: an empty blob
	}
	if err := r.open(); err != nil {
		r.err = err
		return err
	}
	return nil
}

// open (re)opens the source at the current offset.
func (r *blobReader) open() error {
	off := r.v.n
	body, start, total, err := r.src.openBlob(r.ctx, r.b, off)
	if err != nil {
		return fmt.Errorf("read blob %s from %s: %w", r.b.Digest, r.src, err)
	}
	if total >= 0 && total != r.b.Size {
		body.Close()
		return &CorruptError{Kind: "blob", Digest: r.b.Digest, Source: r.src.String(), Size: r.b.Size, GotSize: total}
	}
	if start < off {
		// The registry ignored Range: drop what was already passed on.
		if _, err := io.CopyN(io.Discard, body, off-start); err != nil {
			body.Close()
			return fmt.Errorf("read blob %s from %s: %w", r.b.Digest, r.src, err)
		}
	}
	r.body = body
	return nil
}

func (r *blobReader) finish() error {
	if r.done {
		return nil
	}
	if err := r.v.check(); err != nil {
		r.err = err
		return err
	}
	r.done = true
	if r.read != nil {
		r.read()
	}
	return nil
}

// verify is called once the upload succeeded: the transport may not have
// read the end of the body yet.
func (r *blobReader) verify() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.v.n != r.b.Size {
		return fmt.Errorf("upload of blob %s ended before it was read whole", r.b.Digest)
	}
	return r.finish()
}

// failure is why reading the source failed, if it did.
func (r *blobReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// newBlobReader reads b from src until close. The upload may give up while
// its transport still reads the source: close cancels the read, which lets
// the reader go.
func newBlobReader(ctx context.Context, src source, b registry.Descriptor, stats *Stats) *blobReader {
	ctx, cancel := context.WithCancel(ctx)
	return &blobReader{ctx: ctx, cancel: cancel, src: src, b: b, stats: stats, v: newVerifier("blob", src.String(), b.Digest, b.Size)}
}

func (r *blobReader) close() {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// ForEach runs f over items, DefaultJobs at a time, and returns the first
// error, cancelling the others. The engine's copies use errgroups sized by
// Options.Jobs instead.
func ForEach[T any](ctx context.Context, items []T, f func(ctx context.Context, i int, item T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultJobs)
	for i, it := range items {
		g.Go(func() error { return f(ctx, i, it) })
	}
	return g.Wait()
}
