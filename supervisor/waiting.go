package supervisor

import "fmt"

// The waiting operations' side of the Supervisor: the waiting forms of
// Start, Stop, Restart and SetProfile, and how the loop keeps their
// waiters (the types are in settle.go).

// newWaiter registers a waiter for goals with the loop; the loop calls it.
func (s *Supervisor) newWaiter(goals map[string]Goal) *Waiter {
	c := make(chan Settled, len(goals))
	w := &Waiter{C: c, c: c, pending: goals}
	w.ask = func(stop bool) ([]string, bool) {
		r := &pendingRequest{w: w, stop: stop, reply: make(chan []string, 1)}
		if err := s.call(r); err != nil {
			return nil, false
		}
		if stop {
			return nil, true // Stop does not wait for the loop's reply
		}
		return <-r.reply, true
	}
	s.life.waiters = append(s.life.waiters, w)
	return w
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
	w := s.newWaiter(goals)
	w.Names = sortedKeys(goals)
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

type pendingRequest struct {
	w     *Waiter
	stop  bool
	reply chan []string
}

func (r *pendingRequest) handle(s *Supervisor) {
	if r.stop {
		s.life.waiters.remove(r.w)
	}
	r.reply <- sortedKeys(r.w.pending)
}

// checkWaiters reports the daemons that have settled to their waiters;
// the loop calls it at the end of each pass.
func (s *Supervisor) checkWaiters() {
	s.life.waiters.check(func(name string, g Goal) (Settled, bool) {
		return s.settledFor(s.daemons[name], g)
	})
}

// closeWaiters closes every waiter's channel when Run returns.
func (s *Supervisor) closeWaiters() { s.life.waiters.closeAll() }

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
		case s.heldElsewhere(d):
			// Up in the cluster: a waiter here does not wait for a
			// failover that may never come.
			return Settled{State: Stopped.String() + "@" + d.owner.Owner, OK: true}, true
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
