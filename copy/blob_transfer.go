package copy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker-mlist/docker-mlist/registry"
)

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
