package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker-mlist/docker-mlist/copy"
	"github.com/docker/cli/cli/command"
)

// startProgress returns the stats a push, merge or copy fills and what
// ends their display: on a terminal, one live display (showProgress);
// piped, a plain line per manifest written; quiet, nothing.
func startProgress(dockerCLI command.Cli, quiet bool, label string) (*copy.Stats, func()) {
	stats := &copy.Stats{}
	if quiet {
		return stats, func() {}
	}
	if dockerCLI.Err().IsTerminal() {
		return stats, showProgress(dockerCLI.Err(), label, stats)
	}
	stats.Progress = escapingWriter{dockerCLI.Err()}
	return stats, func() {}
}

// showProgress redraws, on a terminal, a bar per blob in transfer and an
// overall line, until stopped; then it clears them.
func showProgress(w io.Writer, label string, stats *copy.Stats) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	drawn := 0
	draw := func() {
		s, active := stats.Snapshot()
		var out strings.Builder
		if drawn > 0 {
			fmt.Fprintf(&out, "\033[%dA", drawn) // back to the first line of the last drawing
		}
		for _, b := range active {
			fmt.Fprintf(&out, "\r\033[K%s %s %s/%s\n", b.Digest.Encoded()[:12], bar(b.Done, b.Size, 30), humanSize(b.Done), humanSize(b.Size))
		}
		for i := len(active); i < drawn-1; i++ {
			out.WriteString("\r\033[K\n") // blank the lines of blobs that finished
		}
		tags := ""
		if s.Tags > 0 {
			tags = fmt.Sprintf(" %d/%d tags,", s.TagsDone, s.Tags)
		}
		fmt.Fprintf(&out, "\r\033[K%s:%s %s written, %s mounted, %d copied (%s), %d already there\n",
			label, tags, plural(s.Manifests, "manifest"), plural(s.Mounted, "blob"), s.Uploaded, humanSize(s.BytesUploaded), s.Present+s.BlobsPresent)
		drawn = max(len(active)+1, drawn)
		fmt.Fprint(w, out.String())
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		draw()
		for {
			select {
			case <-t.C:
				draw()
			case <-done:
				// Wipe the display: the caller prints the summary.
				if drawn > 0 {
					fmt.Fprintf(w, "\033[%dA\r\033[J", drawn)
				}
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

func bar(done, size int64, width int) string {
	if size <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	n := int(min(done*int64(width)/size, int64(width)))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}
