package supervisor

import (
	"fmt"
	"strings"
)

// UncleanShutdownError is what Run returns when the shutdown was not
// clean: a daemon had to be killed with SIGKILL after its stop_timeout (or
// every one at once, by Kill), or processes were still there when Run gave
// up waiting for them. Every daemon was stopped all the same.
type UncleanShutdownError struct {
	// Killed are the daemons killed after their stop_timeout, in the
	// order they went.
	Killed []string
	// KilledAll is set when Kill killed every daemon at once.
	KilledAll bool
	// Left is how many processes were not gone at exit.
	Left int
}

func (e *UncleanShutdownError) Error() string {
	var parts []string
	if e.KilledAll {
		parts = append(parts, "every daemon was killed at once")
	}
	if len(e.Killed) > 0 {
		parts = append(parts, fmt.Sprintf("killed after stop_timeout: %s", strings.Join(e.Killed, ", ")))
	}
	if e.Left > 0 {
		parts = append(parts, fmt.Sprintf("%d processes not gone at exit", e.Left))
	}
	return "unclean shutdown: " + strings.Join(parts, "; ")
}

// shutdownReport collects what made a shutdown unclean.
type shutdownReport struct {
	killed    []string
	killedAll bool
	left      int
}

// noteExit records a daemon whose process the shutdown had to kill: it was
// stopping, SIGKILL was sent at its deadline, and now it is gone. After
// Kill, which killed them all, none is listed. shuttingDown says whether
// the shutdown has begun.
func (r *shutdownReport) noteExit(shuttingDown bool, name string, prev, next record) {
	if shuttingDown && !r.killedAll && prev.State == Stopping && prev.Killed && prev.PID != 0 && next.PID == 0 {
		r.killed = append(r.killed, name)
	}
}

// err returns the *UncleanShutdownError of the shutdown, or nil when it
// was clean.
func (r *shutdownReport) err() error {
	if len(r.killed) == 0 && !r.killedAll && r.left == 0 {
		return nil
	}
	return &UncleanShutdownError{Killed: r.killed, KilledAll: r.killedAll, Left: r.left}
}
