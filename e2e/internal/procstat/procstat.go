// Package procstat measures the peak memory of a running child process.
package procstat

import (
	"sync"
	"time"
)

// WatchPeakRSS samples the peak resident set size (VmHWM) of process pid
// every interval until the returned stop is called, and stop returns the
// highest value seen, in bytes, or -1 where the platform does not report it.
// Call stop after the process has exited; the last sample is at most one
// interval old. (Rusage.Maxrss of the child is no substitute: Linux folds
// in the parent's high-water mark when the child execs.)
func WatchPeakRSS(pid int, interval time.Duration) (stop func() int64) {
	var (
		mu   sync.Mutex
		peak int64 = -1
		done       = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		if v := vmHWM(pid); v > 0 {
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
		}
	}
	sample()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	var once sync.Once
	return func() int64 {
		once.Do(func() { close(done); wg.Wait() })
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
