package procexec

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Reap collects every child of the process that has exited, without
// blocking: it calls wait4(-1, WNOHANG) until no exited child is left, and
// returns the batch in the order reaped (empty when there is none, including
// when the process has no children at all).
//
// It reaps every child, including orphaned grandchildren adopted through
// [SetSubreaper]; callers ignore PIDs they do not know. Once reaped, a PID may
// be reused by a new process, so the caller must stop signalling it (its
// group may live on while other members do).
//
// Reap is safe to call at any time, but the caller should call it from the
// goroutine that calls [Spawner.Spawn] and registers the PIDs, so that an
// exit is never returned before its PID is known. On an unexpected wait4
// error, Reap returns the exits collected so far with the error.
func Reap() ([]Exit, error) {
	return ReapUpTo(0)
}

// ReapUpTo is [Reap] that returns once it has collected max exits (every
// exit when max <= 0). With fewer than max, no exited child is left.
//
// Each wait4 walks the list of children until it finds an exited one, and
// the call that finds none walks them all: with hundreds of children, the
// last call of Reap costs more than the one that found the exit. A caller
// that restarts an exited process can reap one, restart it, and then reap
// the rest.
func ReapUpTo(max int) ([]Exit, error) {
	var exits []Exit
	for max <= 0 || len(exits) < max {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD || (err == nil && pid <= 0):
			return exits, nil
		case err != nil:
			return exits, fmt.Errorf("cannot reap children: %w", err)
		}
		if e, ok := exitOf(pid, ws); ok {
			exits = append(exits, e)
		}
	}
	return exits, nil
}

// exitOf is the Exit of pid reaped with status ws; ok is false when ws is
// not an exit (stopped or continued: not requested, no WUNTRACED).
func exitOf(pid int, ws unix.WaitStatus) (e Exit, ok bool) {
	e = Exit{PID: pid, At: time.Now()}
	switch {
	case ws.Exited():
		e.Code = ws.ExitStatus()
	case ws.Signaled():
		e.Code, e.Signal = -1, ws.Signal()
	default:
		return Exit{}, false
	}
	return e, true
}

// SetSubreaper marks the process as a child subreaper
// (PR_SET_CHILD_SUBREAPER): a descendant orphaned by the exit of its parent is
// re-parented to this process instead of init, and [Reap] collects its exit.
// Call it before starting any process.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("cannot become a child subreaper: %w", err)
	}
	return nil
}
