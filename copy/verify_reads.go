package copy

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// verifyReads are the requests of one verify, each made once per
// repository and digest however often a list repeats an entry or a blob.
// Every request of the verify, at any depth of nesting, takes a slot of
// one limit, held only while it runs.
type verifyReads struct {
	manifests, configs flights[verifyKey, []byte]
	blobs              flights[verifyKey, bool]
	slots              limiter
}

type verifyKey struct {
	at string
	d  digest.Digest
}

func newVerifyReads() *verifyReads {
	return &verifyReads{slots: make(limiter, SmallJobs)}
}

func (r *verifyReads) manifest(ctx context.Context, at holder, d digest.Digest) ([]byte, error) {
	return r.manifests.do(ctx, verifyKey{at.String(), d}, func() ([]byte, error) {
		var raw []byte
		err := r.slots.do(ctx, func() (err error) {
			raw, err = at.manifestByDigest(ctx, d)
			return err
		})
		return raw, err
	})
}

func (r *verifyReads) config(ctx context.Context, at holder, d digest.Digest) ([]byte, error) {
	return r.configs.do(ctx, verifyKey{at.String(), d}, func() ([]byte, error) {
		var b []byte
		err := r.slots.do(ctx, func() (err error) {
			b, err = at.readBlob(ctx, d, 4<<20)
			return err
		})
		return b, err
	})
}

func (r *verifyReads) blobExists(ctx context.Context, at holder, d digest.Digest) (bool, error) {
	return r.blobs.do(ctx, verifyKey{at.String(), d}, func() (bool, error) {
		var ok bool
		err := r.slots.do(ctx, func() (err error) {
			ok, err = at.hasBlob(ctx, d)
			return err
		})
		return ok, err
	})
}
