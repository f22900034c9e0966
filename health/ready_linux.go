package health

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ReadyPipe is the readiness pipe of a daemon with ready = "fd:N", after
// s6's notification-fd: the daemon gets the write end as descriptor N
// (procexec.Spec.ExtraFiles) and is ready when it writes a newline to it;
// what it writes before the newline is ignored. One goroutine reads the
// other end, waiting in the runtime poller with no thread and no buffer.
//
// After the newline the pipe is still read, and what comes is dropped, until
// end of file, so a daemon that keeps writing is neither blocked nor killed
// by SIGPIPE. s6 expects the daemon to close the descriptor once ready.
type ReadyPipe struct {
	r, w  *os.File
	ready chan struct{}
	done  chan struct{}

	closeW sync.Once
}

// NewReadyPipe creates a pipe and starts reading it.
func NewReadyPipe() (*ReadyPipe, error) {
	r, w, err := os.Pipe() // both close-on-exec; r non-blocking, in the poller
	if err != nil {
		return nil, fmt.Errorf("cannot create readiness pipe: %w", err)
	}
	rc, err := r.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("cannot create readiness pipe: %w", err)
	}
	p := &ReadyPipe{r: r, w: w, ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer r.Close()
		readyPipe(rc, p.ready)
	}()
	return p, nil
}

// ChildEnd returns the write end, for the daemon: set it as
// procexec.Spec.ExtraFiles[N], then call [ReadyPipe.CloseChildEnd] once
// Spawn has returned.
func (p *ReadyPipe) ChildEnd() *os.File { return p.w }

// CloseChildEnd closes the supervisor's copy of the write end, after Spawn:
// until it does, the pipe cannot reach end of file and Done cannot fire.
// Later calls do nothing.
func (p *ReadyPipe) CloseChildEnd() {
	p.closeW.Do(func() { p.w.Close() })
}

// Ready returns a channel that is closed when the daemon has written a
// newline. It is never closed if the daemon closes the pipe, or exits,
// without one.
func (p *ReadyPipe) Ready() <-chan struct{} { return p.ready }

// Done returns a channel that is closed when the pipe has reached end of
// file (every process holding the write end closed it or exited, and
// CloseChildEnd was called) or was closed by [ReadyPipe.Close]. Ready, if it
// is ever closed, is closed first: once Done is closed, an open Ready means
// the daemon will never report ready through this pipe.
func (p *ReadyPipe) Done() <-chan struct{} { return p.done }

// Close closes both ends of the pipe and waits until Done is closed. Later
// calls do nothing.
func (p *ReadyPipe) Close() {
	p.CloseChildEnd()
	p.r.Close()
	<-p.done
}

// readyPipe reads rc until end of file or error, and closes ready at the
// first newline.
func readyPipe(rc syscall.RawConn, ready chan<- struct{}) {
	isReady, eof := false, false
	for !eof {
		err := rc.Read(func(fd uintptr) bool {
			var buf [128]byte
			for {
				n, err := unix.Read(int(fd), buf[:])
				switch {
				case n > 0:
					if !isReady && bytes.IndexByte(buf[:n], '\n') >= 0 {
						isReady = true
						close(ready)
					}
				case err == unix.EINTR:
				case err == unix.EAGAIN:
					return false // wait in the poller
				default: // end of file, or an error no retry will fix
					eof = true
					return true
				}
			}
		})
		if err != nil {
			return
		}
	}
}
