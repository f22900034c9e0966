package procexec

import (
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit is one reaped exit.
type Exit struct {
	// PID is the process that exited. It may be one the caller never
	// started (an orphaned grandchild adopted through the subreaper).
	PID int
	// Code is the exit status, or -1 when the process was killed by a
	// signal.
	Code int
	// Signal is the signal that killed the process, or 0 when it exited
	// by itself.
	Signal syscall.Signal
	// At is when Reap collected the exit.
	At time.Time
}

// Success reports whether the process exited with status 0.
func (e Exit) Success() bool { return e.Signal == 0 && e.Code == 0 }

// String describes the exit as "exit status 1", "signal SIGKILL" or
// "signal 40".
func (e Exit) String() string {
	if e.Signal != 0 {
		return "signal " + strings.TrimPrefix(SignalName(e.Signal), "signal ")
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// SignalName returns the name of sig, such as "SIGTERM", or a description
// such as "signal 40" for a signal without a name. It is the one place
// ringsup spells a signal: in events, `ctl status`, logs and errors.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}
