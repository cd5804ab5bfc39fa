package plugin

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"
)

// forceAfter is the signal count at which the plugin exits at once,
// cleaning nothing up, as the Docker CLI does after its own third.
const forceAfter = 3

// interrupts cancels a command's context on SIGINT or SIGTERM, so that
// what the command started stops and cleans up (upload sessions abandoned,
// temporary files removed, progress lines cleared) before it exits 130 or
// 143.
type interrupts struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan os.Signal
	got    atomic.Int32 // the first signal received, 0 for none
	// signalled is closed by the first signal.
	signalled chan struct{}
}

// groupSignalWait is how long a command cancelled by the CLI's socket
// closing waits for a signal of its own: a Ctrl-C or a kill of the process
// group reaches the CLI and the plugin at once, and whichever the plugin
// sees first, the signal is what it reports.
const groupSignalWait = 250 * time.Millisecond

// watchInterrupts starts watching. parent is the plugin framework's
// context, which the Docker CLI cancels (by closing the plugin's socket)
// when it is signalled and its output is not a terminal; on a terminal the
// signal reaches the plugin itself, the CLI leaving it to the plugin.
func watchInterrupts(parent context.Context) *interrupts {
	w := &interrupts{ch: make(chan os.Signal, forceAfter), signalled: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(parent)
	signal.Notify(w.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for sig := range w.ch {
			s, _ := sig.(syscall.Signal)
			if w.got.CompareAndSwap(0, int32(s)) {
				close(w.signalled)
			}
			w.cancel()
			if n++; n >= forceAfter {
				fmt.Fprintf(os.Stderr, "docker mlist: got %d interrupts, exiting without cleaning up\n", n)
				os.Exit(128 + int(w.got.Load()))
			}
		}
	}()
	return w
}

func (w *interrupts) stop() {
	signal.Stop(w.ch)
	w.cancel()
}

// result is what a command that returned err reports: when it was
// interrupted, one line saying so with the shell's status for the signal
// (the CLI's socket closing counts as SIGTERM: the CLI was told to stop,
// and does not say by which signal).
func (w *interrupts) result(cmd *cobra.Command, err error) error {
	if err == nil || w.ctx.Err() == nil {
		return err
	}
	if w.got.Load() == 0 {
		select {
		case <-w.signalled:
		case <-time.After(groupSignalWait):
		}
	}
	sig := syscall.Signal(w.got.Load())
	name := "SIGINT"
	switch sig {
	case 0:
		sig, name = syscall.SIGTERM, "SIGTERM (via the docker CLI)"
	case syscall.SIGTERM:
		name = "SIGTERM"
	}
	return cli.StatusError{
		StatusCode: 128 + int(sig),
		Status:     fmt.Sprintf("%s: interrupted by %s", cmd.CommandPath(), name),
	}
}

// handleInterrupts gives cmd a context that signals cancel and makes its
// error say it was interrupted. It runs after the plugin framework's hook,
// which sets the context and may replace RunE.
func handleInterrupts(cmd *cobra.Command) {
	w := watchInterrupts(cmd.Context())
	cmd.SetContext(w.ctx)
	run := cmd.RunE
	if run == nil {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		defer w.stop()
		return w.result(cmd, run(cmd, args))
	}
}
