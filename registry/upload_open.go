package registry

import (
	"context"
	"time"
)

// openGrace is how long a request that opens an upload session outlives
// the cancellation of its context.
const openGrace = 5 * time.Second

// openContext is the context of a request that opens an upload session
// (POST, with or without a mount). Cancelling ctx mid-request would leave a
// session the registry opened but the client never learnt of, open until
// the registry purges it; so the request runs on for openGrace, and
// opened abandons what it opened.
func openContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() != nil {
		return ctx, func() {} // nothing is opened once cancelled
	}
	octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(openGrace, cancel) })
	return octx, func() { stop(); cancel() }
}

// opened returns u, unless ctx was cancelled while it was being opened:
// then u is abandoned and ctx's error returned.
func opened(ctx context.Context, u *Upload, err error) (*Upload, error) {
	if ctx.Err() == nil || u == nil {
		return u, err
	}
	u.Cancel(ctx)
	return nil, ctx.Err()
}
