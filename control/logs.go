package control

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/logfile"
)

// tailBlock is how much of a log tailOffset reads at a time, from the end.
const tailBlock = 64 << 10

// logs sends the last lines of a daemon's log, and with follow what is
// appended to it afterwards, until the client hangs up or the supervisor
// stops. The name of a daemon with instances stands for the logs of all of
// them: each line is prefixed with its instance's name, as --echo does,
// the last lines of each instance in turn, then what any of them appends,
// line by line.
func (s *Server) logs(conn *net.UnixConn, req Request) {
	if len(req.Names) != 1 {
		s.send(conn, errorResponse(errors.New("logs needs exactly one daemon name")))
		return
	}
	name := req.Names[0]
	// Only a daemon the supervisor knows has a log to read: a name is
	// never turned into a path before that.
	st, err := s.sup.Status(name)
	if err != nil {
		s.send(conn, errorResponse(err))
		return
	}
	lines := DefaultLogLines
	if req.Lines != nil {
		lines = *req.Lines
	}
	if lines < 0 {
		s.send(conn, errorResponse(fmt.Errorf("invalid number of lines %d", lines)))
		return
	}
	names := []string{name}
	if _, one := st.Daemons[name]; !one {
		names = st.Names()
		slices.SortFunc(names, config.CompareNames)
	}
	w := deadlineWriter{conn: conn, timeout: s.opts.WriteTimeout}
	tailers := make([]*tailer, len(names))
	files := make([]string, len(names))
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for i, n := range names {
		files[i] = n + ".log"
		tailers[i] = &tailer{path: filepath.Join(s.opts.LogDir, files[i])}
		if len(names) > 1 {
			tailers[i].prefix = &linePrefixer{w: w, prefix: []byte(logfile.PlainPrefix(n, width))}
		}
	}
	defer func() {
		for _, t := range tailers {
			t.close()
		}
	}()

	// Watch before reading, so nothing appended in between is missed.
	var changed <-chan struct{}
	if req.Follow {
		var stop func()
		changed, stop = s.files.watch(files...)
		defer stop()
	}
	for i, t := range tailers {
		if err := t.open(lines); err != nil {
			s.send(conn, errorResponse(fmt.Errorf("cannot read the log of %q: %w", names[i], err)))
			return
		}
	}
	if s.send(conn, Response{V: Version, OK: true}) != nil {
		return
	}
	copyAll := func() error {
		for _, t := range tailers {
			if err := t.copy(w); err != nil {
				return err
			}
		}
		return nil
	}
	if err := copyAll(); err != nil || !req.Follow {
		for _, t := range tailers {
			if err == nil && t.prefix != nil {
				err = t.prefix.flush()
			}
		}
		return
	}
	gone := clientGone(conn)
	for {
		select {
		case <-changed:
		case <-gone:
			return
		case <-s.quit:
			return
		case <-s.sup.Done():
			return
		}
		if err := copyAll(); err != nil {
			s.log.Debug("stopped following a log", "daemon", name, "error", err)
			return
		}
	}
}

// open opens the tailer's file, if it exists, at its last lines. A daemon
// that never wrote anything has no log yet: nothing to send, and a
// follower waits for the file to appear.
// When the file has fewer lines than asked for, the rest come from the
// rotated files beside it (olderLines).
func (t *tailer) open(lines int) error {
	f, err := openLog(t.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unwrapErrno(err)
	}
	missing := lines
	if f != nil {
		t.f = f
		fi, err := f.Stat()
		if err == nil {
			t.off, missing, err = tailLines(f, fi.Size(), lines)
		}
		if err != nil {
			return err
		}
	}
	t.older, err = olderLines(t.path, missing)
	return err
}

// linePrefixer writes whole lines to w, each after prefix. It holds a line
// back until its newline comes, so that lines of several files followed at
// once do not mix; of a line longer than tailBlock, what has come is
// written as a line of its own once tailBlock bytes are held.
type linePrefixer struct {
	w       io.Writer
	prefix  []byte
	partial []byte // the start of a line whose newline has not come
	cut     bool   // the last line written was cut short, before its newline
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	n := len(b)
	var out []byte
	for len(b) > 0 {
		if p.cut && len(p.partial) == 0 && b[0] == '\n' {
			b = b[1:] // the newline of the line cut short: already written
			p.cut = false
			continue
		}
		i := bytes.IndexByte(b, '\n')
		p.cut = false
		if i < 0 {
			if len(p.partial)+len(b) < tailBlock {
				p.partial = append(p.partial, b...)
				break
			}
			i = len(b) - 1 // a piece of a long line: out it goes
			p.cut = b[i] != '\n'
		}
		out = append(out, p.prefix...)
		out = append(out, p.partial...)
		out = append(out, b[:i+1]...)
		if b[i] != '\n' {
			out = append(out, '\n')
		}
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
	if len(out) > 0 {
		if _, err := p.w.Write(out); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flush writes the line held back, if any, with a newline.
func (p *linePrefixer) flush() error {
	if len(p.partial) == 0 {
		return nil
	}
	_, err := p.Write([]byte{'\n'})
	return err
}

// tailer reads a log file from an offset on, following it when it is
// truncated (restarted from the beginning) or replaced, as by rotation
// (the rest of the old file is read, then the new one from its start).
type tailer struct {
	path string
	f    *os.File // nil until the file exists
	off  int64
	// prefix, when not nil, is where copy writes, rather than its writer.
	prefix *linePrefixer
	// older are the last lines of the rotated files, which the first copy
	// writes before the file's.
	older []logPart
}

// copy writes what the file holds beyond the offset to w.
func (t *tailer) copy(w io.Writer) error {
	if t.prefix != nil {
		w = t.prefix
	}
	for len(t.older) > 0 {
		p := t.older[0]
		_, err := io.Copy(w, io.NewSectionReader(p.f, p.off, p.size-p.off))
		p.f.Close()
		t.older = t.older[1:]
		if err != nil {
			return err
		}
	}
	for {
		if t.f == nil {
			f, err := openLog(t.path)
			if err != nil {
				return nil // not there (yet, or again): wait for a change
			}
			t.f, t.off = f, 0
		}
		fi, err := t.f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < t.off {
			t.off = 0 // truncated
		}
		n, err := io.Copy(w, io.NewSectionReader(t.f, t.off, fi.Size()-t.off))
		t.off += n
		if err != nil {
			return err
		}
		// Replaced since we opened it? Then what we copied was the end of
		// the old file; carry on with the new one.
		now, err := os.Stat(t.path)
		if err != nil || os.SameFile(fi, now) {
			return nil
		}
		// Anything written to the old file between our Stat and its
		// replacement is read first.
		if fi2, err := t.f.Stat(); err == nil && fi2.Size() > t.off {
			continue
		}
		t.f.Close()
		t.f = nil
	}
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
	}
	for _, p := range t.older {
		p.f.Close()
	}
}

// openLog opens a log file for reading. A symlink is refused: whoever can
// write to the log directory must not make the server read another file.
func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// maxRotatedFiles bounds how many rotated files olderLines looks into.
const maxRotatedFiles = 1000

// logPart is the end of a rotated log file, from off to size.
type logPart struct {
	f         *os.File
	off, size int64
}

// olderLines returns the last n lines found in the rotated files beside
// path (path.1, the newest, path.2, ...), oldest first, looking no further
// than the first file missing.
func olderLines(path string, n int) ([]logPart, error) {
	var parts []logPart
	for i := 1; n > 0 && i <= maxRotatedFiles; i++ {
		f, err := openLog(fmt.Sprintf("%s.%d", path, i))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return parts, unwrapErrno(err)
		}
		p := logPart{f: f}
		fi, err := f.Stat()
		if err == nil {
			p.size = fi.Size()
			p.off, n, err = tailLines(f, p.size, n)
		}
		parts = append(parts, p)
		if err != nil {
			return parts, err
		}
	}
	slices.Reverse(parts)
	return parts, nil
}

// tailOffset returns the offset in r (of the given size) where its last n
// lines begin. It reads backwards from the end, tailBlock bytes at a time,
// only as far as those lines go. A last line without a newline counts as a
// line.
func tailOffset(r io.ReaderAt, size int64, n int) (int64, error) {
	off, _, err := tailLines(r, size, n)
	return off, err
}

// tailLines is tailOffset that also returns how many of the n lines r did
// not have.
func tailLines(r io.ReaderAt, size int64, n int) (off int64, missing int, err error) {
	if n <= 0 {
		return size, 0, nil
	}
	buf := make([]byte, tailBlock)
	end := size
	// A newline that ends the file ends the last line; it does not
	// separate it from a next one.
	skipLast := true
	for end > 0 {
		start := max(0, end-tailBlock)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		if skipLast {
			skipLast = false
			if b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			}
		}
		for {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				break
			}
			n--
			if n == 0 {
				return start + int64(i) + 1, 0, nil
			}
			b = b[:i]
		}
		end = start
	}
	if size > 0 {
		n-- // the first line, which no newline comes before
	}
	return 0, n, nil
}
