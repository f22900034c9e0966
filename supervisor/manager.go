package supervisor

import (
	"fmt"
	"iter"
	"strings"
	"time"
)

// Manager is told of the supervisor's own life, for the service manager
// that runs it (systemd's sd_notify: see cmd/ringsup). Its methods are
// called from the supervisor's loop, except Reloading and Reloaded, which
// run in the goroutine that called Reload; they must not block.
type Manager interface {
	// Ready: start-up is done: every daemon of the profile is running
	// and ready, done, or gave up. status is as for Status.
	Ready(status string)
	// Reloading: a reload begins.
	Reloading()
	// Reloaded: the reload ended, applied or (err) not.
	Reloaded(status string, err error)
	// Stopping: the shutdown begins.
	Stopping()
	// Status: the daemons' states changed; status reads like
	// "12 running, 1 failed".
	Status(status string)
	// Watchdog: the loop is alive; called every WatchdogInterval.
	Watchdog()
}

// managerState is the loop's side of Options.Manager. Its methods are
// given the Manager and what they need of the loop (loop.go calls them).
type managerState struct {
	startup      *Waiter // until start-up is done; nil after
	lastStatus   string
	nextWatchdog time.Time
}

// start begins watching start-up through the startup waiter, for Ready;
// with watchdog, the first Watchdog is due at once.
func (m *managerState) start(startup *Waiter, watchdog bool, now time.Time) {
	m.startup = startup
	if watchdog {
		m.nextWatchdog = now
	}
}

// tell reports to mgr, at the end of a pass, start-up's end and a change
// of the daemons' states (status, as statusLine says them).
func (m *managerState) tell(mgr Manager, status string, shuttingDown bool) {
	if shuttingDown {
		m.startup = nil // never ready: Stopping was said
	}
	if w := m.startup; w != nil && len(w.pending) == 0 {
		m.startup = nil
		m.lastStatus = status
		mgr.Ready(status)
		return
	}
	if status != m.lastStatus {
		m.lastStatus = status
		mgr.Status(status)
	}
}

// watchdogDeadline is when the loop next tells the manager it is alive;
// zero without a watchdog.
func (m *managerState) watchdogDeadline() time.Time { return m.nextWatchdog }

// fireWatchdog tells mgr the loop is alive, if due, and sets the next
// time interval later.
func (m *managerState) fireWatchdog(mgr Manager, interval time.Duration, now time.Time) {
	if dl := m.nextWatchdog; dl.IsZero() || now.Before(dl) {
		return
	}
	mgr.Watchdog()
	m.nextWatchdog = now.Add(interval)
}

// statusLine counts the daemons' records by state, as ctl status shows
// them: "12 running, 1 done, 1 failed".
func statusLine(recs iter.Seq[record]) string {
	var counts [len(stateNames) + 1]int
	done := len(stateNames)
	for rec := range recs {
		if rec.Done {
			counts[done]++
		} else {
			counts[rec.State]++
		}
	}
	var parts []string
	for _, st := range []State{Running, Starting, Restarting, Stopping, Stopped, Failed, ImportFailed} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
		if st == Running && counts[done] > 0 {
			parts = append(parts, fmt.Sprintf("%d done", counts[done]))
		}
	}
	if len(parts) == 0 {
		return "no daemons"
	}
	return strings.Join(parts, ", ")
}
