package supervisor

import (
	"os"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// daemonLog is a daemon's log file, opened at its first write. Opening lazily
// keeps file creation off the start-up path and leaves silent daemons
// without an open file. Write is called by the daemon's output goroutine in
// procexec; Close by the loop.
type daemonLog struct {
	path string
	log  hclog.Logger

	mu     sync.Mutex
	f      *os.File
	failed bool // the last open failed; reported once until one succeeds
	closed bool // after Close, each late write opens and closes the file
}

func (l *daemonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			if !l.failed {
				l.log.Error("cannot open daemon log; output is discarded until it can be opened", "path", l.path, "error", err)
				l.failed = true
			}
			return len(p), nil
		}
		l.f, l.failed = f, false
	}
	n, err := l.f.Write(p)
	if l.closed {
		l.f.Close()
		l.f = nil
	}
	return n, err
}

// Close closes the file. Output that still arrives afterwards (from a
// grandchild holding the pipe) is appended without keeping the file open.
func (l *daemonLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
