package control

import "fmt"

// MaxPathLen is the longest socket path the kernel accepts, in bytes:
// sun_path holds 108 bytes, the last of them a NUL.
const MaxPathLen = 107

// NotListeningError means nothing answers on the socket: it does not exist,
// or no process listens on it.
type NotListeningError struct{ Path string }

func (e *NotListeningError) Error() string {
	return "no supervisor is listening on " + e.Path
}

// AlreadyRunningError is returned by Listen when another supervisor answers
// on the socket or holds its lock. PID is 0 when that supervisor has not yet
// written its pid.
type AlreadyRunningError struct {
	Path string
	PID  int
}

func (e *AlreadyRunningError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("already running: another supervisor holds the lock of socket %s", e.Path)
	}
	return fmt.Sprintf("already running, pid %d (socket %s)", e.PID, e.Path)
}

// RemoteError is an error the supervisor answered with, such as `unknown
// daemon "foo"`. Its message is the server's, unchanged.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// PathTooLongError reports a socket path longer than MaxPathLen.
type PathTooLongError struct{ Path string }

func (e *PathTooLongError) Error() string {
	return fmt.Sprintf("socket path %s is %d bytes, longer than the %d a unix socket path may have", e.Path, len(e.Path), MaxPathLen)
}
