// Package logfile writes daemons' output to their log files: rotated by
// size, optionally timestamped line by line, and optionally echoed, line by
// line, to a terminal.
//
// A [Writer] is the io.Writer a daemon's output goes to
// (procexec.Spec.Output). It never returns an error and never waits for
// anything but the write(2) to its own file: a full disk, a missing log
// directory or a slow terminal stall neither the daemon nor the supervisor.
// Output that cannot be written is dropped and reported through
// [Options.OnError], once per episode, and writing resumes by itself once the
// file can be written again.
//
// An [Echo] gathers the lines of every daemon's Writer onto one output, such
// as ringsup's standard output, each line whole and prefixed with the name of
// its daemon.
package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// LineMax is the longest line, in bytes not counting its newline, that
// timestamps and echo treat as one line. A longer line is split: a newline is
// inserted after its first LineMax bytes and the rest continues as a new line
// (with its own timestamp, or its own echo prefix), and so on. Nothing is
// dropped. Without timestamps the file receives the output unchanged, long
// lines included; the echo is split all the same.
const LineMax = 64 << 10

// timeLayout is the layout of timestamps: RFC 3339 with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Options configure a Writer. The zero value gives a Writer that never rotates,
// adds no timestamps and echoes nothing.
type Options struct {
	// MaxSize is the size in bytes beyond which the file is rotated; 0 means
	// never. See [Writer] for where the file is cut.
	MaxSize int64
	// MaxFiles is how many rotated files are kept: path.1 (the newest) to
	// path.MaxFiles (the oldest). At each rotation path.MaxFiles is removed,
	// every other path.N becomes path.N+1 and path becomes path.1. With 0,
	// no rotated file is kept: at MaxSize the file is truncated and starts
	// over. Rotated files numbered above MaxFiles (left there when it was
	// larger) are removed at the next rotation.
	MaxFiles int
	// Timestamps starts each line in the file with the UTC time, in RFC 3339
	// with milliseconds and a space ("2006-01-02T15:04:05.000Z "), at which
	// the line's first byte reached Write. A line whose end has not arrived
	// yet is written as far as it has come, without waiting for its newline;
	// the chunk that continues it gets no timestamp of its own.
	Timestamps bool
	// Now returns the time for Timestamps. Default: time.Now.
	Now func() time.Time
	// Echo, if not nil, receives a copy of the output line by line, each line
	// preceded by EchoPrefix and without timestamp. Each call to its Write
	// holds one or more whole lines. A line is held back until its newline
	// arrives, it reaches LineMax bytes, or the Writer is closed (then it is
	// ended with a newline). Echo is called with the Writer's lock held and
	// its errors are ignored, so it must not block: an [*Echo] never does.
	Echo io.Writer
	// EchoPrefix starts every line sent to Echo, such as the string
	// [Echo.Prefix] returns.
	EchoPrefix string
	// OnError, if not nil, is called with each problem that makes the
	// Writer drop output or skip a rotation: an error opening or writing the
	// file, or renaming files to rotate it. It is called once per episode:
	// a failing write is reported, and so is the next one that fails only
	// after a write in between succeeded (likewise for rotation). It is
	// called from Write, without the Writer's lock held, and must
	// not block for long: the daemon's output waits for it.
	OnError func(error)
}

// Writer appends a daemon's output to its log file, rotating it by size.
//
// The file is opened (created with mode 0644 if needed, and appended to) at
// the first Write, and again at the first Write after Reopen or after an
// error; a daemon that never writes has no file open. The directory is never
// created: the supervisor makes it.
//
// Where it rotates: when a write would take the file past MaxSize, the Writer
// writes what fits up to and including the last newline that fits, rotates,
// and goes on in the new file. When no newline fits it does not split a line
// that has not begun in the file: if the file ends with a newline it rotates
// first. Otherwise (a line that began in the file, or one longer than
// MaxSize) it fills the file to exactly MaxSize bytes. No file is ever larger
// than MaxSize, timestamps included, and the concatenation of the files is
// the output.
//
// Errors: Write always returns len(p), nil. When the file cannot be opened
// or written (no space left, permission denied, the log directory missing),
// the part of the chunk that could not be written is dropped, the error goes
// to OnError, and the file is closed; every later Write tries to open it
// again, so logging resumes as soon as the disk has room or the directory
// exists again. When a rotation fails, the output keeps going to the current
// file, past MaxSize, and the next Write tries to rotate again. A file removed
// or renamed while it is open keeps receiving output until Reopen or the
// next rotation, as with any program that holds its log open.
//
// Write, Reopen and Close are safe for concurrent use: typically Write is
// called by the goroutine of procexec that drains the daemon's pipe (two of
// them while an old incarnation's grandchild still holds its pipe), Reopen
// and Close by the supervisor. Each call holds the Writer's lock, so Reopen
// and Close wait for at most one Write in progress: one write(2) of a chunk,
// or a rotation.
type Writer struct {
	path string
	opts Options

	mu       sync.Mutex
	f        *os.File // nil when closed
	size     int64    // bytes in f
	lineEnd  bool     // f is empty or ends with a newline, as far as we know
	closed   bool     // Close was called: each Write closes the file again
	writeErr bool     // an open or write failure was reported and none succeeded since
	rotErr   bool     // a rotation failure was reported and none succeeded since

	// State of the output's current line, for Timestamps and Echo.
	midLine bool // a line has begun and not ended
	lineLen int  // its length so far, at most LineMax
	stamped []byte
	line    []byte // its part not echoed yet
	echoed  []byte // whole lines to send to Echo
}

// Open returns a Writer for the log file at path. It does not touch the file
// system (see [Writer]); its error reports only invalid arguments: an empty
// path, or a negative MaxSize or MaxFiles.
func Open(path string, opts Options) (*Writer, error) {
	switch {
	case path == "":
		return nil, errors.New("cannot open log: empty path")
	case opts.MaxSize < 0:
		return nil, fmt.Errorf("cannot open log %s: negative MaxSize %d", path, opts.MaxSize)
	case opts.MaxFiles < 0:
		return nil, fmt.Errorf("cannot open log %s: negative MaxFiles %d", path, opts.MaxFiles)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Writer{path: path, opts: opts, lineEnd: true}, nil
}

// Path returns the path of the file the Writer writes.
func (w *Writer) Path() string { return w.path }

// Write writes p to the file, with timestamps when they are on, and queues
// its lines for echo. It returns len(p), nil, whatever happened; see
// [Writer] for what happens on errors. It does not keep p.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	data := p
	if w.opts.Timestamps || w.opts.Echo != nil {
		data = w.lines(p)
	}
	errs := w.write(data)
	if w.closed {
		w.flushLine()
		w.closeFile()
	}
	w.echo()
	w.mu.Unlock()
	w.report(errs)
	return len(p), nil
}

// Reopen closes the file; the next Write opens path again. After logrotate
// has renamed the file away and created a new one (its create mode), or
// removed it, Reopen makes the output go to the file now at path. It returns
// the error of closing the old file, if any.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeFile()
}

// Close ends the line held back for echo, if any, with a newline and sends
// it, and closes the file. Output that still arrives afterwards (from a
// grandchild holding the daemon's pipe) is still written: each later Write
// opens the file, writes and closes it again. Close returns the error of
// closing the file, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.flushLine()
	w.echo()
	return w.closeFile()
}

// EndLine ends the line that the output left unfinished, if any, as when
// the process that wrote it is gone and another one is about to write: the
// echo gets the line held back, ended with a newline, and with Timestamps
// the file gets a newline, so that the next output starts a line with its
// own timestamp instead of continuing the last one. Without Timestamps the
// file is left alone: it holds the output exactly.
func (w *Writer) EndLine() {
	w.mu.Lock()
	var errs errorSet
	if w.midLine && w.opts.Timestamps {
		errs = w.write([]byte{'\n'})
		if w.closed {
			w.closeFile()
		}
	}
	w.midLine, w.lineLen = false, 0
	w.flushLine()
	w.echo()
	w.mu.Unlock()
	w.report(errs)
}

// lines processes p through the line state: it returns p as it goes to the
// file (p itself, or a copy with timestamps and split long lines when
// Timestamps is on) and appends p's completed lines, prefixed, to w.echoed.
func (w *Writer) lines(p []byte) []byte {
	stamps, echo := w.opts.Timestamps, w.opts.Echo != nil
	out := p
	w.stamped = w.stamped[:0]
	var stamp []byte // the timestamp of lines that begin in p, made at the first
	for len(p) > 0 {
		if w.lineLen == LineMax && p[0] != '\n' {
			// Split the long line: end it here.
			if stamps {
				w.stamped = append(w.stamped, '\n')
			}
			if echo {
				w.line = append(w.line, '\n')
				w.endLine()
			}
			w.midLine, w.lineLen = false, 0
		}
		if !w.midLine && stamps {
			if stamp == nil {
				stamp = append(w.opts.Now().UTC().AppendFormat(make([]byte, 0, 32), timeLayout), ' ')
			}
			w.stamped = append(w.stamped, stamp...)
		}
		w.midLine = true
		// The line may take LineMax-lineLen more bytes, then its newline.
		seg := p[:min(len(p), LineMax-w.lineLen+1)]
		ended := false
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			seg, ended = p[:i+1], true
			w.midLine, w.lineLen = false, 0
		} else {
			seg = p[:min(len(p), LineMax-w.lineLen)]
			w.lineLen += len(seg)
		}
		if stamps {
			w.stamped = append(w.stamped, seg...)
		}
		if echo {
			w.line = append(w.line, seg...)
			if ended {
				w.endLine()
			}
		}
		p = p[len(seg):]
	}
	if stamps {
		return w.stamped
	}
	return out
}

// endLine moves the line held for echo, which ends with a newline, to
// w.echoed.
func (w *Writer) endLine() {
	w.echoed = append(w.echoed, w.opts.EchoPrefix...)
	w.echoed = append(w.echoed, w.line...)
	w.line = w.line[:0]
}

// flushLine ends the line held back for echo, if any, with a newline and
// queues it. The file's line state is left alone: more output may continue
// the line there.
func (w *Writer) flushLine() {
	if len(w.line) > 0 {
		w.line = append(w.line, '\n')
		w.endLine()
	}
}

// echo sends the queued lines to Echo.
func (w *Writer) echo() {
	if len(w.echoed) > 0 {
		w.opts.Echo.Write(w.echoed)
		w.echoed = w.echoed[:0]
	}
}

// errorSet holds the errors a Write reports, at most one of each kind.
type errorSet struct{ write, rotate error }

// report calls OnError with the errors of errs.
func (w *Writer) report(errs errorSet) {
	if w.opts.OnError == nil {
		return
	}
	if errs.write != nil {
		w.opts.OnError(errs.write)
	}
	if errs.rotate != nil {
		w.opts.OnError(errs.rotate)
	}
}

// write writes p to the file, rotating it as needed, and returns the errors
// to report: those that begin an episode.
func (w *Writer) write(p []byte) errorSet {
	var errs errorSet
	noRotate := false // a rotation failed in this call
	for len(p) > 0 {
		if w.f == nil {
			if err := w.open(0); err != nil {
				errs.write = w.writeFailed(err)
				return errs
			}
		}
		n, rotate := len(p), false
		if max := w.opts.MaxSize; max > 0 && !noRotate && w.size+int64(n) > max {
			n, rotate = 0, true
			if fit := max - w.size; fit > 0 {
				if i := bytes.LastIndexByte(p[:fit], '\n'); i >= 0 {
					n = i + 1
				} else if w.size == 0 || !w.lineEnd {
					n = int(fit)
				}
			}
		}
		if n > 0 {
			m, err := w.f.Write(p[:n])
			w.size += int64(m)
			if m > 0 {
				w.lineEnd = p[m-1] == '\n'
			}
			if err != nil {
				w.closeFile()
				errs.write = w.writeFailed(fmt.Errorf("cannot write log: %w", err))
				return errs
			}
			w.writeErr = false
			p = p[n:]
		}
		if rotate {
			if err := w.rotate(); err != nil {
				if !w.rotErr {
					w.rotErr = true
					errs.rotate = err
				}
				noRotate = true
				continue
			}
			w.rotErr = false
		}
	}
	return errs
}

// writeFailed records an open or write failure and returns err if it begins
// an episode, nil otherwise.
func (w *Writer) writeFailed(err error) error {
	if w.writeErr {
		return nil
	}
	w.writeErr = true
	return err
}

// open opens the file for appending, with the extra flags flag, and learns
// its size. It never follows a symlink at the log's path: whoever can write
// to the log directory must not make ringsup append to another file.
func (w *Writer) open(flag int) error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|flag, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot open log: %w", err)
	}
	// An existing file's last byte is not known: count it as a line end,
	// which at worst rotates a file a line early.
	w.f, w.size, w.lineEnd = f, fi.Size(), true
	return nil
}

// closeFile closes the file, if open.
func (w *Writer) closeFile() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("cannot close log: %w", err)
	}
	return nil
}
