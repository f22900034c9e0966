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
)

// tailBlock is how much of a log tailOffset reads at a time, from the end.
const tailBlock = 64 << 10

// logs sends the last lines of a daemon's log, and with follow what is
// appended to it afterwards, until the client hangs up or the supervisor
// stops.
func (s *Server) logs(conn *net.UnixConn, req Request) {
	if len(req.Names) != 1 {
		s.send(conn, errorResponse(errors.New("logs needs exactly one daemon name")))
		return
	}
	name := req.Names[0]
	// Only a daemon the supervisor knows has a log to read: a name is
	// never turned into a path before that.
	if _, err := s.sup.Status(name); err != nil {
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
	path := filepath.Join(s.opts.LogDir, name+".log")

	// Watch before reading, so nothing appended in between is missed.
	var changed <-chan struct{}
	if req.Follow {
		var stop func()
		changed, stop = s.files.watch(filepath.Base(path))
		defer stop()
	}
	f, err := openLog(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.send(conn, errorResponse(fmt.Errorf("cannot read the log of %q: %w", name, unwrapErrno(err))))
		return
	}
	// A daemon that never wrote anything has no log yet: nothing to send,
	// and a follower waits for the file to appear.
	t := &tailer{path: path, f: f}
	defer t.close()
	missing := lines
	if f != nil {
		fi, err := f.Stat()
		if err == nil {
			t.off, missing, err = tailLines(f, fi.Size(), lines)
		}
		if err != nil {
			s.send(conn, errorResponse(fmt.Errorf("cannot read the log of %q: %w", name, err)))
			return
		}
	}
	// Fewer lines than asked for: the rest are in the rotated files.
	older, err := olderLines(path, missing)
	defer func() {
		for _, p := range older {
			p.f.Close()
		}
	}()
	if err != nil {
		s.send(conn, errorResponse(fmt.Errorf("cannot read the log of %q: %w", name, err)))
		return
	}
	if s.send(conn, Response{V: Version, OK: true}) != nil {
		return
	}
	w := deadlineWriter{conn: conn, timeout: s.opts.WriteTimeout}
	for _, p := range older {
		if _, err := io.Copy(w, io.NewSectionReader(p.f, p.off, p.size-p.off)); err != nil {
			return
		}
	}
	if err := t.copy(w); err != nil || !req.Follow {
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
		if err := t.copy(w); err != nil {
			s.log.Debug("stopped following a log", "path", path, "error", err)
			return
		}
	}
}

// tailer reads a log file from an offset on, following it when it is
// truncated (restarted from the beginning) or replaced, as by rotation
// (the rest of the old file is read, then the new one from its start).
type tailer struct {
	path string
	f    *os.File // nil until the file exists
	off  int64
}

// copy writes what the file holds beyond the offset to w.
func (t *tailer) copy(w io.Writer) error {
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
