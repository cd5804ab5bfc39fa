package copy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// blobFlights are the blob transfers under way in one command, by
// destination repository and digest. Manifests that share a blob (the empty
// config of artifacts, a base layer) wait for one transfer instead of racing
// a second into the same repository: that costs a second upload, and
// distribution may answer one of two concurrent commits of a digest with
// DIGEST_INVALID. A blob made present once is remembered, so a later ask
// (a referrer sharing an artifact's empty config) costs no request either:
// what a blob costs does not depend on which transfer asks first, and the
// run's requests are the same from run to run.
type blobFlights struct {
	m sync.Map // string -> *blobFlight
	// done are the keys whose blob this command made present (or found).
	done sync.Map // string -> struct{}
	// found is what a run's plan found, by the same key: whether the
	// destination holds the blob (see engine.blobsPresent). The blob's
	// first transfer uses it instead of a HEAD of its own.
	found sync.Map // string -> bool
}

// planned is what the plan found of the blob under key, once: a later
// transfer of it (a referrer's) finds it done.
func (fs *blobFlights) planned(key string) (present, known bool) {
	v, ok := fs.found.LoadAndDelete(key)
	if !ok {
		return false, false
	}
	return v.(bool), true
}

// blobKey names a blob in a registry repository, for blobFlights.
func blobKey(dst Endpoint, d digest.Digest) string {
	return dst.Client.Host + "/" + dst.Repository + "@" + d.String()
}

type blobFlight struct {
	done chan struct{}
	err  error
}

// do runs f for key once among callers that ask at the same time: the
// others wait for it and get its result; once f succeeds, later callers
// get nil without running it.
func (fs *blobFlights) do(ctx context.Context, key string, f func() error) error {
	fl := &blobFlight{done: make(chan struct{})}
	if prev, loaded := fs.m.LoadOrStore(key, fl); loaded {
		p := prev.(*blobFlight)
		select {
		case <-p.done:
			return p.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() {
		fs.m.Delete(key)
		close(fl.done)
	}()
	// Checked as the flight's owner: a flight that ended before this one
	// began recorded its success before leaving m.
	if _, ok := fs.done.Load(key); ok {
		return nil
	}
	if fl.err = f(); fl.err == nil {
		fs.done.Store(key, struct{}{})
	}
	return fl.err
}

// registryBlob makes blob b of the engine's source present in the
// registry repository dst, once however many manifests ask for it at once.
func (e *engine) registryBlob(ctx context.Context, dst Endpoint, b registry.Descriptor) error {
	key := blobKey(dst, b.Digest)
	return e.flights.do(ctx, key, func() error { return e.registryBlobOnce(ctx, dst, b, key) })
}

func (e *engine) registryBlobOnce(ctx context.Context, dst Endpoint, b registry.Descriptor, key string) error {
	e.stats.add(func(s *Stats) { s.BlobsSeen++ })
	t := &blobTransfer{e: e, dst: dst, b: b}
	rs, fromRegistry := e.src.(*registrySource)
	switch {
	case fromRegistry && rs.ep.Client.Host == dst.Client.Host:
		// A mount answers 201 for a blob the target already links too, so
		// no HEAD first.
		t.mountFrom = rs.ep.Repository
	case dst.New:
		// A repository without tags may still hold blobs of an interrupted
		// copy: a mount from itself says so (201) with the request that
		// otherwise opens the upload session (202). It almost never does,
		// so the source is opened meanwhile: its read starts a round trip
		// earlier (and costs a GET only when a re-run
		// finds the blob there).
		t.mountFrom, t.early = dst.Repository, true
	default:
		ok, known := e.flights.planned(key)
		if !known {
			var err error
			if ok, err = dst.Client.BlobExists(ctx, dst.Repository, b.Digest); err != nil {
				return err
			}
		}
		if ok {
			e.stats.add(func(s *Stats) { s.BlobsPresent++ })
			return nil
		}
	}
	defer e.stats.endBlob(b.Digest)
	what := fmt.Sprintf("copy blob %s from %s to %s", b.Digest, e.src, dst)
	if err := dst.Client.Retry(ctx, what, func() error { return t.attempt(ctx) }); err != nil {
		return err
	}
	e.stats.add(func(s *Stats) {
		switch {
		case t.found && t.early:
			s.BlobsPresent++
		case t.found:
			s.Mounted++
		default:
			s.Uploaded++
		}
	})
	return nil
}

// blobTransfer makes one blob present in a registry repository. Each
// attempt opens one upload session (by a mount where one may find the blob
// there, else a POST) and streams the blob into it from the source,
// verified; the destination client's retry policy retries attempts as a
// whole, and no request inside one is retried by itself.
type blobTransfer struct {
	e   *engine
	dst Endpoint
	b   registry.Descriptor
	// mountFrom, when set, is the repository of the destination's registry
	// the next attempt mounts from; early: the source is opened while that
	// mount is under way.
	mountFrom string
	early     bool
	// found: a mount linked the blob, nothing was uploaded.
	found bool
	// chunked: the registry refused a monolithic upload once already.
	chunked bool
}

func (t *blobTransfer) attempt(ctx context.Context) error {
	e, dst, b := t.e, t.dst, t.b
	var up *registry.Upload
	var r *blobReader
	release := func() {}
	defer func() { release() }()
	switch {
	case t.mountFrom != "" && t.early:
		var mountErr error
		t.found, up, r, mountErr = t.mountOrOpen(ctx)
		t.mountFrom = "" // a repository without the blob does not get it by asking again
		if t.found {
			return nil
		}
		if _, again := registry.Retryable(mountErr); again {
			r.close()
			return mountErr
		}
	case t.mountFrom != "":
		ok, u, err := dst.Client.MountBlob(ctx, dst.Repository, t.mountFrom, b.Digest)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case ok:
			t.found = true
			return nil
		case err == nil:
			dst.Client.Logf("mount %s from %s into %s declined; streaming it", b.Digest, t.mountFrom, dst)
			t.mountFrom, up = "", u
		default:
			if _, again := registry.Retryable(err); again {
				return err
			}
			// Typically the destination's credentials may not read the
			// source (401/403): the source's own client can.
			dst.Client.Logf("%v; streaming %s through the source's credentials instead", err, b.Digest)
			t.mountFrom = ""
		}
	}
	// The stream is taken once the body is about to flow: the round trip
	// that opens the session (or finds the blob there) holds none, so a
	// stream moves bytes and nothing else.
	rel, err := e.acquire(ctx, b)
	if err != nil {
		if up != nil {
			up.Cancel(ctx)
		}
		if r != nil {
			r.close()
		}
		return err
	}
	release = rel
	for {
		err := t.put(ctx, up, r, release)
		if errors.Is(err, registry.ErrMonolithicRefused) && !t.chunked {
			// The client now uploads in chunks, on a new session; a
			// protocol's choice, not a fault, so within this attempt.
			dst.Client.Logf("%v; uploading in chunks", err)
			t.chunked = true
			up, r = nil, nil
			continue
		}
		return err
	}
}

// put streams the blob into up (opened here when nil) from r (opened here
// when nil), and calls read once the source has been read whole and
// verified: the wait for the registry to verify and commit the blob
// overlaps the next blob's read. A session that fails is cancelled.
func (t *blobTransfer) put(ctx context.Context, up *registry.Upload, r *blobReader, read func()) error {
	e, dst, b := t.e, t.dst, t.b
	if up == nil {
		var err error
		if up, err = dst.Client.StartUpload(ctx, dst.Repository, b.Digest); err != nil {
			if r != nil {
				r.close()
			}
			return err
		}
	}
	e.stats.startBlob(b.Digest, b.Size) // a new attempt's progress starts at 0
	if r == nil {
		// The source is opened once the session is: a source that fails
		// costs no upload, and a registry that holds a lock while it reads
		// an upload body (go-containerregistry's in-memory one) is not
		// asked for a blob of its own meanwhile.
		r = newBlobReader(ctx, e.src, b, e.stats)
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
	if err == nil {
		return nil
	}
	up.Cancel(ctx)
	if rerr != nil && (ctx.Err() != nil || !errors.Is(rerr, context.Canceled)) {
		// The source failed, not the upload: its error is the cause, and
		// final (its own reads were retried by its client).
		return rerr
	}
	return err
}

// mountOrOpen asks dst, a repository without tags, for the blob with a
// mount from itself and meanwhile opens it at the source. found: dst holds
// it already (r is closed); else up is the session the mount opened (nil
// after an error, err) and r the source, opened or failed.
func (t *blobTransfer) mountOrOpen(ctx context.Context) (found bool, up *registry.Upload, r *blobReader, err error) {
	var ok bool
	mounted := make(chan struct{})
	go func() {
		defer close(mounted)
		ok, up, err = t.dst.Client.MountBlob(ctx, t.dst.Repository, t.mountFrom, t.b.Digest)
	}()
	r = newBlobReader(ctx, t.e.src, t.b, t.e.stats)
	_ = r.start() // kept in r: the upload reports it
	<-mounted
	if err == nil && ok {
		r.close()
		return true, nil, nil, nil
	}
	if err != nil {
		up = nil
	}
	return false, up, r, err
}
