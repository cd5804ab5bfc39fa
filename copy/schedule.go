package copy

import (
	"context"
	"sync"
)

// writeJob is one request of a write: a blob, a manifest put (by digest or
// under a tag), or the gate that runs the engine's before hook. It starts
// once every job it waits for is done, so a manifest goes as soon as its
// own blobs and children are there, not after every other top's.
type writeJob struct {
	blob *neededBlob
	put  topNode
	top  bool // the put names a top
	gate bool
	// height orders the gate: it waits for the puts below the first tag.
	height int
	// waiting counts the jobs it still waits for; then are those waiting
	// for it.
	waiting int
	then    []*writeJob
	after   map[*writeJob]bool
}

// waitFor makes j start after k, once however often it is asked.
func (j *writeJob) waitFor(k *writeJob) {
	if j.after == nil {
		j.after = map[*writeJob]bool{}
	}
	if k == j || j.after[k] {
		return
	}
	j.after[k] = true
	j.waiting++
	k.then = append(k.then, j)
}

// schedule runs jobs, limit at a time, each once the jobs it waits for are
// done; manifests before blobs when both are ready (a manifest is one small
// request, and what waits on it is a tag). The first error cancels the rest
// and is returned. The jobs must wait for one another without a cycle.
func schedule(ctx context.Context, limit int, jobs []*writeJob, run func(ctx context.Context, j *writeJob) error) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	puts := make(chan *writeJob, len(jobs))
	blobs := make(chan *writeJob, len(jobs))
	ready := func(j *writeJob) {
		if j.blob != nil {
			blobs <- j
		} else {
			puts <- j
		}
	}
	for _, j := range jobs {
		if j.waiting == 0 {
			ready(j)
		}
	}
	finished := make(chan struct{})
	var mu sync.Mutex
	left := len(jobs)
	var failed error
	done := func(j *writeJob, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if failed == nil {
				failed = err
				cancel()
			}
			return
		}
		left--
		for _, k := range j.then {
			if k.waiting--; k.waiting == 0 {
				ready(k)
			}
		}
		if left == 0 {
			close(finished)
		}
	}
	var wg sync.WaitGroup
	for range min(limit, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var j *writeJob
				select {
				case j = <-puts:
				default:
					select {
					case j = <-puts:
					case j = <-blobs:
					case <-finished:
						return
					case <-ctx.Done():
						return
					}
				}
				done(j, run(ctx, j))
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return failed
	}
	if left > 0 {
		return ctx.Err()
	}
	return nil
}
