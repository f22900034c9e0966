package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// session is one run of one contender with n children: launched, measured,
// stopped, and everything it left killed.
type session struct {
	h       *harness
	c       *contender
	n       int
	dir     string
	hub     *hub
	pid     int
	exit    <-chan exitInfo
	exited  *exitInfo
	started time.Time
	first   time.Time        // the first child's report
	live    map[uint64]event // by connection
}

var errSupervisorExited = errors.New("the supervisor exited")

// launch writes the contender's config for n children and starts it; it
// returns once the supervisor process exists (t0 is taken just before the
// fork).
func (h *harness) launch(c *contender, n int, argvFor func(dir string) ([]string, error)) (*session, error) {
	h.seq++
	dir := filepath.Join(h.work, fmt.Sprintf("%03d-%s-%d", h.seq, c.name, n))
	for _, sub := range []string{"logs", "conf"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	s := &session{h: h, c: c, n: n, dir: dir, live: map[uint64]event{}}
	if argvFor == nil {
		argvFor = func(dir string) ([]string, error) { return c.setup(h.bins, dir, n) }
	}
	argv, err := argvFor(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot set up %s: %w", c.name, err)
	}
	sock := filepath.Join(dir, "r.sock")
	if s.hub, err = newHub(sock); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "supervisor.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	env := append(append(os.Environ(), "BENCH_SOCK="+sock), c.env...)
	s.started = time.Now()
	s.pid, s.exit, err = h.procs.start(argv, env, dir, out)
	if err != nil {
		s.hub.close()
		return nil, err
	}
	return s, nil
}

// apply updates the set of live children with e.
func (s *session) apply(e event) {
	if e.exit {
		delete(s.live, e.id)
		return
	}
	s.live[e.id] = e
	if s.first.IsZero() {
		s.first = e.at
	}
}

// next returns the next child event, or an error at the deadline or when
// the supervisor has exited.
func (s *session) next(deadline time.Time) (event, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	exit := s.exit
	if s.exited != nil {
		exit = nil
	}
	for {
		select {
		case e := <-s.hub.events:
			s.apply(e)
			return e, nil
		case e := <-exit:
			s.exited = &e
			exit = nil
			if s.h.stopping {
				continue
			}
			return event{}, fmt.Errorf("%w (%v); see %s", errSupervisorExited, e.status, filepath.Join(s.dir, "supervisor.out"))
		case <-timer.C:
			return event{}, fmt.Errorf("timed out with %d children up", len(s.live))
		}
	}
}

// drain applies the events already queued.
func (s *session) drain() {
	for {
		select {
		case e := <-s.hub.events:
			s.apply(e)
		default:
			return
		}
	}
}

// waitUp waits until n children are up and returns when the last one
// reported.
func (s *session) waitUp(n int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for len(s.live) < n {
		e, err := s.next(deadline)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s, %d children: %w", s.c.name, s.n, err)
		}
		if len(s.live) >= n {
			return e.at, nil
		}
	}
	return time.Now(), nil
}

// own lists the supervisor's own processes: the supervisor and whatever
// runs below it that is not a child.
func (s *session) own() []int {
	s.drain()
	children := map[int]bool{}
	for _, e := range s.live {
		children[e.pid] = true
	}
	pids := []int{s.pid}
	for _, p := range descendants(procTable(), s.pid) {
		if !children[p] {
			pids = append(pids, p)
		}
	}
	return pids
}

// cpu measures the CPU use of the supervisor's own processes over window,
// in percent of one core, and their thread wake-ups per second.
func (s *session) cpu(window time.Duration) (pct, wakeups float64) {
	pids := s.own()
	a := cpuOf(pids)
	t0 := time.Now()
	time.Sleep(window)
	b := cpuOf(pids)
	secs := time.Since(t0).Seconds()
	ns := float64(b.ns - a.ns)
	if a.ns == 0 && b.ns == 0 { // no schedstat: clock ticks
		ns = float64(b.ticks-a.ticks) * 1e7
	}
	return ns / 1e9 / secs * 100, float64(b.slices-a.slices) / secs
}

// restart SIGKILLs one child that has run for over 1.5 s and never been
// killed, and returns the time until its replacement reported.
func (s *session) restart(killed map[uint64]bool, timeout time.Duration) (time.Duration, error) {
	s.drain()
	var candidates []uint64
	for id, e := range s.live {
		if !killed[id] && time.Since(e.at) > 1500*time.Millisecond {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return 0, fmt.Errorf("%s: no child left to kill (%d up)", s.c.name, len(s.live))
	}
	slices.Sort(candidates)
	victim := s.live[candidates[rand.IntN(len(candidates))]]
	killed[victim.id] = true
	before := len(s.live)
	t0 := time.Now()
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		return 0, err
	}
	deadline := t0.Add(timeout)
	dead := false
	var replaced time.Time
	for !dead || replaced.IsZero() {
		e, err := s.next(deadline)
		if err != nil {
			return 0, fmt.Errorf("%s: after killing %d: %w", s.c.name, victim.pid, err)
		}
		switch {
		case e.exit && e.id == victim.id:
			dead = true
		case !e.exit && replaced.IsZero():
			replaced = e.at
			killed[e.id] = true
		}
	}
	if len(s.live) != before {
		return 0, fmt.Errorf("%s: %d children up after a restart, want %d", s.c.name, len(s.live), before)
	}
	return replaced.Sub(t0), nil
}

// stop sends the contender's stop signal and returns the time until no
// child is left, then the time until the supervisor itself has exited.
func (s *session) stop(timeout time.Duration) (children, supervisor time.Duration, err error) {
	s.drain()
	s.h.stopping = true
	defer func() { s.h.stopping = false }()
	t0 := time.Now()
	if err := syscall.Kill(s.pid, s.c.stopSignal); err != nil {
		return 0, 0, err
	}
	deadline := t0.Add(timeout)
	last := t0
	for len(s.live) > 0 {
		e, err := s.next(deadline)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: stopping: %w", s.c.name, err)
		}
		if e.exit {
			last = e.at
		}
	}
	children = last.Sub(t0)
	if s.exited == nil {
		select {
		case e := <-s.exit:
			s.exited = &e
		case <-time.After(time.Until(deadline)):
			return children, 0, fmt.Errorf("%s: the supervisor did not exit after its children", s.c.name)
		}
	}
	return children, s.exited.at.Sub(t0), nil
}

// close kills whatever is left of the session and removes its files unless
// the harness keeps them.
func (s *session) close() error {
	err := killAll(30 * time.Second)
	s.hub.close()
	if err == nil && !s.h.opts.keep {
		os.RemoveAll(s.dir)
	}
	return err
}
