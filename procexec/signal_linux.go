package procexec

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal sends sig to the process group of p (kill(-PID, sig)), which
// reaches every process the daemon started that stayed in its group. It
// returns an error wrapping [ErrNoProcess] when the group no longer exists.
func (p *Proc) Signal(sig syscall.Signal) error { return SignalGroup(p.PID, sig) }

// SignalGroup sends sig to the process group pgid, as [Proc.Signal] does. A
// pgid below 2 is refused (kill(0) or kill(-1) would signal the supervisor's
// own group or every process). Signal 0 only checks that the group exists.
func SignalGroup(pgid int, sig syscall.Signal) error {
	if pgid < 2 {
		return fmt.Errorf("cannot signal process group %d: invalid process group", pgid)
	}
	switch err := unix.Kill(-pgid, sig); err {
	case nil:
		return nil
	case unix.ESRCH:
		return noGroupError(pgid)
	default:
		return fmt.Errorf("cannot send %s to process group %d: %w", SignalName(sig), pgid, err)
	}
}

// noGroupError is SignalGroup's error for a group that no longer exists,
// which wraps [ErrNoProcess]. It is the common case (the group of a daemon
// whose leader has exited, killed on the way to its restart), so its text
// is made only when asked for: fmt.Errorf cost more than the kill.
type noGroupError int

func (e noGroupError) Error() string {
	return fmt.Sprintf("cannot signal process group %d: %v", int(e), ErrNoProcess)
}

func (e noGroupError) Unwrap() error { return ErrNoProcess }
