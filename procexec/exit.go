package procexec

import (
	"strconv"
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

// String describes the exit as "exit status 1" or "signal SIGKILL".
func (e Exit) String() string {
	if e.Signal != 0 {
		return "signal " + signalName(e.Signal)
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// signalName is "SIGKILL" for a known signal and the number otherwise.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return strconv.Itoa(int(sig))
}
