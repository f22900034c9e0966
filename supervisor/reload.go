package supervisor

import (
	"fmt"
	"slices"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/health"
)

// Reload reads and validates the config file again and applies the
// difference: removed daemons stop (dependents first), added daemons of the
// active profile start, daemons whose command, env, working_dir, user or
// stop settings changed restart with their dependents, and everything else
// applies in place; unchanged daemons keep their process. A change of
// placement or placement_labels is such a restart: a singleton made local
// stops its copy as a singleton (guard released, node withdrawn:
// SINGLETON_LOST, stopped) before it starts as a local daemon, and a
// singleton's next fence checks the new labels. An invalid file
// changes nothing: its error (a config.ErrorList, or the unknown profile) is
// returned and published as CONFIG_RELOAD_FAILED.
//
// The file is parsed in the caller's goroutine. A reload that arrives while
// daemons are stopping (a cascade, another reload) waits until they are
// down; reloads are applied one at a time, in order.
func (s *Supervisor) Reload() (sum ReloadSummary, err error) {
	done := s.reloading()
	defer func() { done(err) }()
	cfg, err := config.Load(s.opts.Config.Path)
	if err != nil {
		if cerr := s.call(&reloadFailedRequest{err: err}); cerr != nil {
			return ReloadSummary{}, cerr
		}
		return ReloadSummary{}, err
	}
	r := &reloadRequest{cfg: cfg, reply: make(chan reloadReply, 1)}
	if err := s.call(r); err != nil {
		return ReloadSummary{}, err
	}
	rep := <-r.reply
	return rep.summary, rep.err
}

func (r *reloadRequest) handle(s *Supervisor) {
	s.changes.reloads = append(s.changes.reloads, r)
}

type reloadFailedRequest struct{ err error }

func (r *reloadFailedRequest) handle(s *Supervisor) {
	s.publishNow(Event{Type: ConfigReloadFailed, Error: r.err.Error()})
}

// checkBuild refuses a config that this build of ringsup cannot run: an
// https:// health check where the probes have no TLS (the lean build; see
// health.TLS), which the lean ringsup hands over to ringsup-full when it
// starts, and so only a restart can bring in. The error is at the
// daemon's table.
func checkBuild(cfg *config.Config) error {
	name := cfg.HTTPSCheck()
	if name == "" || health.TLS {
		return nil
	}
	d := cfg.Daemons[name]
	return &config.Error{File: cfg.Path, Line: d.Pos.Line, Col: d.Pos.Col, Msg: fmt.Sprintf(
		"daemons.%s.health.http: an https:// health check needs TLS, which this build of ringsup leaves out: restart ringsup to run the config as ringsup-full", d.Template)}
}

// busy reports whether a transition is under way that a reload must not
// interleave with: a daemon stopping or due to stop (a cascade, another
// reload's stops). Start-up's spawns happen within one pass of the loop, so
// no reload can come between them. A daemon spawned and not yet ready does
// not hold a reload up: it may never get ready, and the reload may be what
// fixes it.
func (s *Supervisor) busy() bool {
	for _, d := range s.order {
		if d.rec.StopDue || d.rec.State == Stopping {
			return true
		}
	}
	return false
}

// applyQueuedReload applies the oldest waiting reload once nothing is under
// way.
func (s *Supervisor) applyQueuedReload() {
	if len(s.changes.reloads) == 0 {
		return
	}
	if s.life.shuttingDown {
		for _, r := range s.changes.reloads {
			r.reply <- reloadReply{err: fmt.Errorf("cannot reload: %w", ErrShuttingDown)}
		}
		s.changes.reloads = nil
		return
	}
	if s.busy() {
		return
	}
	r := s.changes.reloads[0]
	s.changes.reloads = s.changes.reloads[1:]
	cfg := r.cfg
	if r.scale != nil {
		var err error
		if cfg, err = s.changes.scales.apply(s.cfg, r.scale); err != nil {
			r.reply <- reloadReply{err: err}
			return
		}
	} else {
		cfg = s.changes.scales.keep(cfg, s.log)
	}
	sum, err := s.applyReload(cfg)
	r.reply <- reloadReply{summary: sum, err: err}
}

// applyReload makes cfg the running config and starts the transitions it
// calls for; the loop's schedule carries them out.
func (s *Supervisor) applyReload(cfg *config.Config) (ReloadSummary, error) {
	err := config.CheckReload(s.cfg, cfg)
	if err == nil {
		err = checkBuild(cfg)
	}
	if err != nil {
		s.publishNow(Event{Type: ConfigReloadFailed, Error: err.Error()})
		return ReloadSummary{}, err
	}
	diff := config.Compare(s.cfg, cfg)
	for _, key := range diff.NeedRestart {
		s.log.Warn("config setting changed but needs a restart of ringsup to apply", "key", "supervisor."+key)
	}
	// Settings that cannot change live keep their running value.
	cfg.Supervisor.Socket, cfg.Supervisor.LogDir = s.cfg.Supervisor.Socket, s.cfg.Supervisor.LogDir

	wasActive, oldCfg := s.sel.active, s.cfg
	var removed []*daemon
	for _, name := range diff.Removed {
		removed = append(removed, s.daemons[name])
	}
	if err := s.install(cfg, removed); err != nil {
		ev := Event{Type: ConfigReloadFailed, Error: err.Error()}
		s.publishNow(ev)
		return ReloadSummary{}, err
	}
	sum := ReloadSummary{
		Added:     diff.Added,
		Removed:   diff.Removed,
		Restarted: []string{},
		Updated:   slices.Clone(diff.Policy),
	}
	for _, d := range removed {
		s.stopWithDependents(d)
	}
	for _, d := range s.order {
		s.unplace(d) // a singleton made local with no copy
	}
	for _, name := range diff.Runtime {
		d := s.daemons[name]
		s.replace(d, oldCfg.Daemons[name])
		switch {
		case d.rec.PID != 0:
			s.restartWithDependents(d, false)
			sum.Restarted = append(sum.Restarted, name)
		case (d.rec.State == Failed || d.rec.State == ImportFailed) && s.sel.active[name]:
			s.apply(d, input{kind: inRestart, force: true})
			sum.Restarted = append(sum.Restarted, name)
		case d.rec.Done && s.sel.active[name]:
			// A done oneshot that changed runs again; its running
			// dependents keep running.
			s.apply(d, input{kind: inStart})
			sum.Restarted = append(sum.Restarted, name)
		default:
			sum.Updated = append(sum.Updated, name)
		}
	}
	s.applyMembership(wasActive)
	slices.Sort(sum.Updated)
	s.publishNow(Event{Type: ConfigReloaded, ReloadSummary: &sum})
	return sum, nil
}

// applyMembership starts the daemons that joined the active set since
// wasActive, and stops (dependents first) those that left it.
func (s *Supervisor) applyMembership(wasActive map[string]bool) {
	for _, d := range s.order {
		switch {
		case d.removed:
		case s.sel.active[d.name] && !wasActive[d.name]:
			s.apply(d, input{kind: inStart})
		case !s.sel.active[d.name] && wasActive[d.name]:
			s.stopWithDependents(d)
		}
	}
}

// statusLineRequest asks the loop for Reloaded's status, from the caller's
// goroutine.
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

// statusLine counts the daemons by state (manager.go's statusLine).
func (s *Supervisor) statusLine() string {
	return statusLine(func(yield func(record) bool) {
		for _, d := range s.order {
			rec := d.rec
			rec.State = shownState(d) // a singleton held elsewhere is stopped here
			if !yield(rec) {
				return
			}
		}
	})
}

// Scale sets how many instances the daemon name (one with an instances
// key) runs, as `ctl scale` does: the new instances start if the daemon
// is in the active profile, the highest-numbered ones stop beyond n, and
// the others are left alone, same process. It is applied like a reload
// of the config with instances = n (it waits for what is stopping, and
// publishes CONFIG_RELOADED) and returns what changed.
//
// The count holds until a reload finds that the file's instances value
// for name changed since the scale: then the file wins. The file itself
// is never written.
func (s *Supervisor) Scale(name string, n int) (ReloadSummary, error) {
	r := &reloadRequest{scale: &scaleOp{name: name, n: n}, reply: make(chan reloadReply, 1)}
	if err := s.call(r); err != nil {
		return ReloadSummary{}, err
	}
	rep := <-r.reply
	return rep.summary, rep.err
}
