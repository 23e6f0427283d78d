package main

import (
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// plainProgressEvery is how often progress is written where it cannot be
// redrawn (a log file, a pipe).
const plainProgressEvery = 10 * time.Second

// progress shows the advance of a long job on w. On a terminal each status
// line redraws the one before; anywhere else a status becomes a plain line
// at most once per interval, and end writes the last one, so that a log
// gets a few lines instead of one enormous line or thousands of them.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	interval time.Duration
	start    time.Time
	last     time.Time // when a plain line was last written
	pending  string    // the latest status not yet written as a plain line
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), interval: plainProgressEvery, start: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// status reports the job's state in one line.
func (p *progress) status(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		io.WriteString(p.w, "\r"+s+"\x1b[K")
		p.drawn = true
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.pending = ""
		io.WriteString(p.w, s+"\n")
		return
	}
	p.pending = s
}

// end finishes the output: the terminal's line is ended, a plain log gets
// the last status it has not seen.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\n")
	}
	if p.pending != "" {
		io.WriteString(p.w, p.pending+"\n")
		p.pending = ""
	}
}

// note writes a line that is a result, not a status: always, on a
// terminal in place of the status line, elsewhere after the status not yet
// written.
func (p *progress) note(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		io.WriteString(p.w, "\r"+s+"\x1b[K\n")
		p.drawn = false
		return
	}
	if p.pending != "" { // the status it concludes comes first
		io.WriteString(p.w, p.pending+"\n")
		p.pending = ""
	}
	io.WriteString(p.w, s+"\n")
}

// Write takes whole lines, what postgres.CopyOptions.Progress writes: a
// table's "verified ..." line is a result (note), every other line a
// status.
func (p *progress) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "verified ") {
			p.note(line)
		} else {
			p.status(line)
		}
	}
	return len(b), nil
}
