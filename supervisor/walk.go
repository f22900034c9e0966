package supervisor

// This file decides when osRuntime walks the list of children for exits
// (wait4(-1)), which reads every child's kernel task: 150-350 µs with 500
// daemons, cold. The daemons', probes' and hooks' exits come from their
// pidfds (procexec.Watcher) without it; only an adopted orphan's, or that of
// a process the Watcher could not watch, needs the walk.

import (
	"os"
	"sync/atomic"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// walkDelay is how long a walk may wait, after a SIGCHLD that the pidfds
// explain, for other exits to walk for at once: an orphan stays a zombie
// that much longer, which nobody sees.
const walkDelay = 100 * time.Millisecond

// walkPolicy is when to walk. Every exit sends SIGCHLD, watched or not, and
// signals do not say whose, so each SIGCHLD makes a walk due; but when
// watched exits were just reaped, a walk would most likely find nothing,
// and it is put off by walkDelay, one walk for every SIGCHLD of that time.
// It walks at once when nothing watched was reaped since the last walk (the
// SIGCHLD is an orphan's, or came before its pidfd's report), and whenever
// a process it started is not watched.
type walkPolicy struct {
	// due is set by forward at each SIGCHLD, cleared when a walk starts.
	due     atomic.Bool
	signals chan os.Signal
	stop    chan struct{}
	// The rest is the loop's.
	unwatched map[int]struct{} // started and not watched, not yet reaped
	reaped    bool             // watched exits reaped since the last walk
	putOff    time.Time        // when a due walk was first put off
	timer     *time.Timer      // calls the loop back when the walk is due
}

// close stops forward and the timer.
func (p *walkPolicy) close() {
	close(p.stop)
	if p.timer != nil {
		p.timer.Stop()
	}
}

// forward marks a walk due at each SIGCHLD and tells the loop, until stop.
func (p *walkPolicy) forward(exited func()) {
	for {
		select {
		case <-p.signals:
			p.due.Store(true)
			exited()
		case <-p.stop:
			return
		}
	}
}

// reap reaps the exits w reported, then walks if a walk is due and may not
// wait; exited is what tells the loop to call again when it may no longer.
func (p *walkPolicy) reap(w *procexec.Watcher, max int, exited func()) ([]procexec.Exit, error) {
	exits := w.ReapReported(max)
	if len(exits) > 0 {
		p.reaped = true
	}
	if max > 0 && len(exits) >= max || !p.due.Load() {
		return exits, nil
	}
	now := time.Now()
	if p.reaped && len(p.unwatched) == 0 && (p.putOff.IsZero() || now.Sub(p.putOff) < walkDelay) {
		if p.putOff.IsZero() {
			p.putOff = now
			if p.timer == nil {
				p.timer = time.AfterFunc(walkDelay, exited)
			} else {
				p.timer.Reset(walkDelay)
			}
		}
		return exits, nil
	}
	p.due.Store(false)
	p.reaped, p.putOff = false, time.Time{}
	rest := 0
	if max > 0 {
		rest = max - len(exits)
	}
	more, err := w.Walk(rest)
	for _, x := range more {
		delete(p.unwatched, x.PID)
	}
	if rest > 0 && len(more) == rest {
		p.due.Store(true) // it stopped at max: more may be ready
	}
	return append(exits, more...), err
}
