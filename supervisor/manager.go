package supervisor

import (
	"fmt"
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

// managerState is the loop's side of Options.Manager.
type managerState struct {
	startup      *Waiter // until start-up is done; nil after
	lastStatus   string
	nextWatchdog time.Time
}

// startManager begins watching start-up for Ready; Run calls it once the
// active daemons were told to start.
func (s *Supervisor) startManager(now time.Time) {
	if s.opts.Manager == nil {
		return
	}
	goals := make(map[string]Goal, len(s.sel.active))
	for n := range s.sel.active {
		goals[n] = GoalUp
	}
	c := make(chan Settled, len(goals))
	s.life.mgr.startup = &Waiter{s: s, C: c, c: c, pending: goals}
	s.life.waiters = append(s.life.waiters, s.life.mgr.startup)
	if s.opts.WatchdogInterval > 0 {
		s.life.mgr.nextWatchdog = now
	}
}

// tellManager reports, at the end of a pass, start-up's end and a change
// of the daemons' states.
func (s *Supervisor) tellManager() {
	m := s.opts.Manager
	if m == nil {
		return
	}
	status := s.statusLine()
	if s.life.shuttingDown {
		s.life.mgr.startup = nil // never ready: Stopping was said
	}
	if w := s.life.mgr.startup; w != nil && len(w.pending) == 0 {
		s.life.mgr.startup = nil
		s.life.mgr.lastStatus = status
		m.Ready(status)
		return
	}
	if status != s.life.mgr.lastStatus {
		s.life.mgr.lastStatus = status
		m.Status(status)
	}
}

// watchdogDeadline is when the loop next tells the manager it is alive;
// zero without a watchdog.
func (s *Supervisor) watchdogDeadline() time.Time { return s.life.mgr.nextWatchdog }

// fireWatchdog tells the manager the loop is alive, if due.
func (s *Supervisor) fireWatchdog(now time.Time) {
	if dl := s.life.mgr.nextWatchdog; dl.IsZero() || now.Before(dl) {
		return
	}
	s.opts.Manager.Watchdog()
	s.life.mgr.nextWatchdog = now.Add(s.opts.WatchdogInterval)
}

// statusLine counts the daemons by state, as ctl status shows them:
// "12 running, 1 done, 1 failed".
func (s *Supervisor) statusLine() string {
	var counts [len(stateNames) + 1]int
	done := len(stateNames)
	for _, d := range s.order {
		if d.rec.Done {
			counts[done]++
		} else {
			counts[d.rec.State]++
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

// statusRequest for Reloaded's status, from the caller's goroutine.
type statusLineRequest struct{ reply chan string }

func (r *statusLineRequest) handle(s *Supervisor) { r.reply <- s.statusLine() }

// reloading tells the manager a reload begins; the returned function tells
// it the reload ended with err.
func (s *Supervisor) reloading() func(err error) {
	m := s.opts.Manager
	if m == nil {
		return func(error) {}
	}
	m.Reloading()
	return func(err error) {
		r := &statusLineRequest{reply: make(chan string, 1)}
		status := ""
		if s.call(r) == nil {
			status = <-r.reply
		}
		m.Reloaded(status, err)
	}
}
