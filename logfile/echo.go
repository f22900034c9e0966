package logfile

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"sync"
)

// echoMax is how many bytes an Echo holds for its output before it drops
// lines.
const echoMax = 1 << 20

// Echo copies the lines of several Writers to one output, such as ringsup's
// standard output when it is a terminal. Give each Writer the Echo as
// [Options.Echo] and its [Echo.Prefix] as [Options.EchoPrefix].
//
// Its Write never blocks on the output: an Echo's own goroutine writes to
// it, so a slow or stopped terminal slows no daemon. What the output has not
// taken yet waits in a buffer of 1 MiB; while the buffer is full, lines are
// dropped (the log files still have them) and, once it has room again, a
// line saying how many were dropped takes their place.
type Echo struct {
	out   io.Writer
	color bool

	mu      sync.Mutex
	buf     []byte // waiting for the output
	dropped int    // lines dropped since the output last took buf
	closed  bool
	wake    chan struct{} // has a value when buf or closed changed
	done    chan struct{} // closed when the goroutine returns
}

// NewEcho returns an Echo writing to out, with colored prefixes if color is
// true (see [ColorEnabled]). It starts the Echo's goroutine; [Echo.Close]
// ends it.
func NewEcho(out io.Writer, color bool) *Echo {
	e := &Echo{out: out, color: color, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// Prefix returns the prefix of the lines of the daemon name: the name,
// padded with spaces to width bytes (not cut when longer), then " | ". With
// color, the name and the bar are in a color chosen by the name, the same in
// every run, and the prefix resets the color before the line's text. Give
// every daemon the same width, the length of the longest name, to align
// their lines.
func (e *Echo) Prefix(name string, width int) string {
	if !e.color {
		return PlainPrefix(name, width)
	}
	padded := name + strings.Repeat(" ", max(0, width-len(name)))
	return "\x1b[" + colorOf(name) + "m" + padded + " |\x1b[0m "
}

// PlainPrefix returns the prefix of Prefix without color: name padded to
// width, then " | ". `ctl logs` of a daemon with instances prefixes each
// instance's lines with it.
func PlainPrefix(name string, width int) string {
	return name + strings.Repeat(" ", max(0, width-len(name))) + " | "
}

// colors are the ANSI foreground colors of prefixes: no red, which reads as
// an error, and no white or black, which vanish on some terminals.
var colors = [...]string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// colorOf returns the color of name's prefix.
func colorOf(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return colors[h.Sum32()%uint32(len(colors))]
}

// Write queues p, which should hold whole lines, for the output, or drops it
// whole when the buffer is full. It does not block and always returns
// len(p), nil; after Close it drops p.
func (e *Echo) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
	case e.dropped > 0 || len(e.buf)+len(p) > echoMax:
		// Once a line is dropped, the later ones are too until the
		// output has taken the buffer, so that the notice of the drop
		// comes where the lines were.
		e.dropped += max(1, bytes.Count(p, []byte{'\n'}))
	default:
		e.buf = append(e.buf, p...)
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Close writes out what is buffered, then stops the Echo's goroutine. It
// waits for the output to take the buffer. Later Writes are dropped.
func (e *Echo) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	e.mu.Unlock()
	<-e.done
	return nil
}

// run writes the buffer to the output until Close.
func (e *Echo) run() {
	defer close(e.done)
	var spare []byte
	for range e.wake {
		e.mu.Lock()
		out, dropped, closed := e.buf, e.dropped, e.closed
		e.buf, e.dropped = spare[:0], 0
		e.mu.Unlock()
		if len(out) > 0 {
			e.out.Write(out) // an output that fails just loses the echo
		}
		if dropped > 0 {
			fmt.Fprintf(e.out, "ringsup: %d lines not echoed: the output was too slow (they are in the log files)\n", dropped)
		}
		spare = out
		if closed {
			return
		}
	}
}
