package procexec

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// chunkSize is the size of the buffers that output is read into.
const chunkSize = 32 << 10

// chunks holds the read buffers. A reader takes one only while its pipe is
// readable, so a thousand quiet daemons hold none.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// copyOutput copies r to w until end of file, then closes r and done. It waits
// for data in the runtime poller without holding a buffer, and keeps reading
// (and dropping what w refuses) when w fails, so that the writer is never
// blocked. onErr, if not nil, gets the first error of w.
func copyOutput(r *os.File, w io.Writer, onErr func(error), onEnd func(), done chan<- struct{}) {
	defer close(done)
	if onEnd != nil {
		defer onEnd()
	}
	defer r.Close()
	rc, err := r.SyscallConn()
	if err != nil {
		return
	}
	var failed, eof bool
	for !eof {
		err := rc.Read(func(fd uintptr) bool {
			buf := chunks.Get().(*[]byte)
			defer chunks.Put(buf)
			for {
				n, err := unix.Read(int(fd), *buf)
				switch {
				case n > 0:
					if _, werr := w.Write((*buf)[:n]); werr != nil && !failed {
						failed = true
						if onErr != nil {
							onErr(werr)
						}
					}
				case err == unix.EINTR:
				case err == unix.EAGAIN:
					return false // wait in the poller, buffer returned
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
