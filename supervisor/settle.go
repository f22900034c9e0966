package supervisor

import (
	"fmt"
	"slices"

	"github.com/ringrift/ringsup/config"
)

// This file holds the waiting forms of Start, Stop, Restart and
// SetProfile, which ctl's start, stop, restart and profile use unless
// --no-block: the operation, then a report of each daemon it names as the
// daemon settles. The loop checks the waiters at the end of each pass,
// when every daemon's state is final for that pass.

// Goal is what a waiting caller wants of a daemon.
type Goal int

const (
	// GoalUp: running (and ready), or for a oneshot, done.
	GoalUp Goal = iota
	// GoalDown: no process left and no stop pending: stopped (failed and
	// import_failed count, having no process either), or removed.
	GoalDown
	// GoalSteady: whichever state the daemon comes to rest in; reached
	// unless that is failed or import_failed. For a daemon a reload
	// added, which starts only if its profile runs it.
	GoalSteady
)

// Settled reports that a daemon reached its goal (OK) or gave up.
type Settled struct {
	// Daemon is the daemon's name.
	Daemon string `json:"daemon"`
	// State is where it settled, as ctl status shows it ("done" for a
	// completed oneshot, "removed" for a daemon a reload dropped).
	State string `json:"state"`
	// OK says whether that is its goal.
	OK bool `json:"ok"`
	// Error is its last error when it gave up.
	Error string `json:"error,omitempty"`
}

// Waiter reports the daemons of one waiting operation as they settle.
type Waiter struct {
	s *Supervisor
	// C receives one Settled per daemon, in the order they settle, and is
	// closed after the last one, or early when the supervisor stops.
	C <-chan Settled
	// Names are the daemons it waits for, sorted.
	Names   []string
	c       chan Settled
	pending map[string]Goal
}

// settleRequest carries out an operation and registers a waiter for the
// goals it returns, in one turn of the loop, so that no change of state
// falls between them.
type settleRequest struct {
	op    func(s *Supervisor) (map[string]Goal, error)
	reply chan settleReply
}

type settleReply struct {
	w   *Waiter
	err error
}

func (r *settleRequest) handle(s *Supervisor) {
	goals, err := r.op(s)
	if err != nil {
		r.reply <- settleReply{err: err}
		return
	}
	c := make(chan Settled, len(goals))
	w := &Waiter{s: s, C: c, Names: sortedKeys(goals), c: c, pending: goals}
	s.life.waiters = append(s.life.waiters, w)
	r.reply <- settleReply{w: w}
}

func (s *Supervisor) settle(op func(s *Supervisor) (map[string]Goal, error)) (*Waiter, error) {
	r := &settleRequest{op: op, reply: make(chan settleReply, 1)}
	if err := s.call(r); err != nil {
		return nil, err
	}
	rep := <-r.reply
	return rep.w, rep.err
}

// goalsFor gives every daemon the same goal.
func goalsFor(ds []*daemon, g Goal) map[string]Goal {
	goals := make(map[string]Goal, len(ds))
	for _, d := range ds {
		goals[d.name] = g
	}
	return goals
}

// opWaiting runs a start, stop or restart and waits for the daemons it
// names: the name of a daemon with instances stands for every instance.
func (s *Supervisor) opWaiting(op string, force bool, names []string, g Goal) (*Waiter, error) {
	return s.settle(func(s *Supervisor) (map[string]Goal, error) {
		if err := s.operate(&opRequest{op: op, names: names, force: force}); err != nil {
			return nil, err
		}
		ds, err := s.lookup(names) // as operate found them
		if err != nil {
			return nil, err
		}
		return goalsFor(ds, g), nil
	})
}

// StartWaiting is Start, and a Waiter for each named daemon to be up:
// running and ready, or done for a oneshot.
func (s *Supervisor) StartWaiting(names ...string) (*Waiter, error) {
	return s.opWaiting("start", false, names, GoalUp)
}

// StopWaiting is Stop, and a Waiter for each named daemon to be down.
func (s *Supervisor) StopWaiting(names ...string) (*Waiter, error) {
	return s.opWaiting("stop", false, names, GoalDown)
}

// RestartWaiting is Restart, and a Waiter for each named daemon to be up
// again.
func (s *Supervisor) RestartWaiting(force bool, names ...string) (*Waiter, error) {
	return s.opWaiting("restart", force, names, GoalUp)
}

// SetProfileWaiting is SetProfile, and a Waiter for the daemons that join
// the profile to be up and for those that leave it to be down.
func (s *Supervisor) SetProfileWaiting(name string) (*Waiter, error) {
	return s.settle(func(s *Supervisor) (map[string]Goal, error) {
		was := s.sel.active
		if err := s.setProfile(name); err != nil {
			return nil, err
		}
		goals := make(map[string]Goal)
		for n := range s.sel.active {
			if !was[n] {
				goals[n] = GoalUp
			}
		}
		for n := range was {
			if !s.sel.active[n] {
				goals[n] = GoalDown
			}
		}
		return goals, nil
	})
}

// Wait returns a Waiter for the goals, with no operation: for what a
// reload changed (its summary says which daemons), once Reload returned.
// An unknown name is settled at once, as removed.
func (s *Supervisor) Wait(goals map[string]Goal) (*Waiter, error) {
	return s.settle(func(*Supervisor) (map[string]Goal, error) { return goals, nil })
}

// Pending returns the names not settled yet, sorted. Call it once C is
// closed or the caller stops waiting.
func (w *Waiter) Pending() []string {
	r := &pendingRequest{w: w, reply: make(chan []string, 1)}
	if err := w.s.call(r); err != nil {
		// The loop is gone: what it left is final.
		return sortedKeys(w.pending)
	}
	return <-r.reply
}

// Stop forgets the waiter: C receives nothing more (and is not closed).
// Call it when giving up before C is closed.
func (w *Waiter) Stop() {
	_ = w.s.call(&pendingRequest{w: w, stop: true, reply: make(chan []string, 1)})
}

type pendingRequest struct {
	w     *Waiter
	stop  bool
	reply chan []string
}

func (r *pendingRequest) handle(s *Supervisor) {
	if r.stop {
		s.life.waiters = slices.DeleteFunc(s.life.waiters, func(w *Waiter) bool { return w == r.w })
	}
	r.reply <- sortedKeys(r.w.pending)
}

func sortedKeys(m map[string]Goal) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.SortFunc(out, config.CompareNames) // w@2 before w@10
	return out
}

// checkWaiters reports the daemons that have settled to their waiters;
// the loop calls it at the end of each pass.
func (s *Supervisor) checkWaiters() {
	if len(s.life.waiters) == 0 {
		return
	}
	s.life.waiters = slices.DeleteFunc(s.life.waiters, func(w *Waiter) bool {
		for _, name := range sortedKeys(w.pending) {
			st, ok := s.settledFor(s.daemons[name], w.pending[name])
			if !ok {
				continue
			}
			st.Daemon = name
			delete(w.pending, name)
			w.c <- st // buffered for every name: never blocks
		}
		if len(w.pending) == 0 {
			close(w.c)
			return true
		}
		return false
	})
}

// closeWaiters closes every waiter's channel when Run returns.
func (s *Supervisor) closeWaiters() {
	for _, w := range s.life.waiters {
		close(w.c)
	}
	s.life.waiters = nil
}

// settledFor reports whether d (nil when it is not in the config) has
// settled for goal g, and how.
func (s *Supervisor) settledFor(d *daemon, g Goal) (Settled, bool) {
	if d == nil {
		return Settled{State: "removed", OK: g != GoalUp}, true
	}
	if d.rec.StopDue {
		return Settled{}, false
	}
	state := d.rec.State.String()
	if d.rec.Done {
		state = "done"
	}
	failed := d.rec.State == Failed || d.rec.State == ImportFailed
	switch g {
	case GoalUp:
		switch {
		case d.satisfies():
			return Settled{State: state, OK: true}, true
		case failed || d.rec.State == Stopped:
			// Stopped and not done: a dependency failed, or it was
			// stopped since.
			return Settled{State: state, Error: d.rec.LastError}, true
		}
	case GoalDown:
		if d.rec.PID == 0 && (d.rec.State == Stopped || failed) {
			return Settled{State: state, OK: true}, true
		}
	case GoalSteady:
		switch {
		case failed, d.rec.State == Stopped && d.rec.LastError != "":
			// Failed, or stopped because a dependency failed.
			return Settled{State: state, Error: d.rec.LastError}, true
		case d.rec.State == Stopped, d.satisfies():
			return Settled{State: state, OK: true}, true
		}
	default:
		panic(fmt.Sprintf("settledFor: unknown goal %d", g))
	}
	return Settled{}, false
}
