package supervisor

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// UnknownDaemonError reports a daemon name that is not in the config.
type UnknownDaemonError struct{ Name string }

func (e *UnknownDaemonError) Error() string { return fmt.Sprintf("unknown daemon %q", e.Name) }

// RefusedError reports an operation refused for a daemon in its current
// state, such as a restart without --force of a failed daemon.
type RefusedError struct {
	Name   string
	State  State
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("cannot %s: daemon %q is %s", e.Reason, e.Name, e.State)
}

// lookup resolves names, failing on the first unknown one. The name of a
// daemon with instances stands for every instance, in order; NAME@n for
// one.
func (s *Supervisor) lookup(names []string) ([]*daemon, error) {
	out := make([]*daemon, 0, len(names))
	for _, n := range names {
		if d, ok := s.daemons[n]; ok {
			out = append(out, d)
			continue
		}
		if _, ok := s.cfg.Templates[n]; !ok {
			return nil, &UnknownDaemonError{Name: n}
		}
		for _, in := range s.cfg.Instances(n) {
			out = append(out, s.daemons[in])
		}
	}
	return out, nil
}

// opRequest is a start, stop or restart of named daemons.
type opRequest struct {
	op    string // "start", "stop", "restart"
	names []string
	force bool
	reply chan error
}

func (r *opRequest) handle(s *Supervisor) { r.reply <- s.operate(r) }

func (s *Supervisor) operate(r *opRequest) error {
	ds, err := s.lookup(r.names)
	if err != nil {
		return err
	}
	if s.life.shuttingDown {
		return fmt.Errorf("cannot %s: %w", r.op, ErrShuttingDown)
	}
	switch r.op {
	case "start":
		for _, d := range ds {
			if d.rec.State == Failed || d.rec.State == ImportFailed {
				return &RefusedError{Name: d.name, State: d.rec.State, Reason: "start (use restart --force)"}
			}
		}
		for _, d := range ds {
			s.startWithDependencies(d)
		}
	case "stop":
		for _, d := range ds {
			s.stopWithDependents(d)
		}
	case "restart":
		if !r.force {
			for _, d := range ds {
				if d.rec.State == Failed || d.rec.State == ImportFailed {
					return &RefusedError{Name: d.name, State: d.rec.State, Reason: "restart without --force"}
				}
			}
		}
		for _, d := range ds {
			s.restartWithDependents(d, r.force)
		}
	}
	return nil
}

// stopWithDependents marks d and every daemon that depends on it to stop and
// stay down; schedule stops them dependents first. (A singleton among the
// dependents stays wanted: step has it stop as in a cascade.)
func (s *Supervisor) stopWithDependents(d *daemon) {
	for _, dep := range s.dependentsOf(d) {
		s.apply(dep, input{kind: inStopDue, reason: stayDown, depStopping: true})
	}
	s.apply(d, input{kind: inStopDue, reason: stayDown})
}

// restartWithDependents restarts d (starting its dependencies if needed):
// its running dependents stop first, then d, and all start again. force
// resets the restart count and is what lets a failed daemon start.
func (s *Supervisor) restartWithDependents(d *daemon, force bool) {
	s.startDependencies(d)
	s.apply(d, input{kind: inRestart, force: force})
	if d.rec.PID != 0 {
		s.apply(d, input{kind: inStopDue, reason: startAgain})
	}
	for _, dep := range s.dependentsOf(d) {
		if dep.rec.PID != 0 {
			s.apply(dep, input{kind: inStopDue, reason: startAgain})
		}
	}
}

// startWithDependencies wants d up, and with it everything it depends on.
func (s *Supervisor) startWithDependencies(d *daemon) {
	s.startDependencies(d)
	s.apply(d, input{kind: inStart})
}

// startDependencies wants up every daemon d depends on. A done oneshot is
// a satisfied dependency, like a systemd unit with RemainAfterExit=yes:
// step keeps it done (input.forDependent); it runs again only when named
// itself, or when a reload changes it.
func (s *Supervisor) startDependencies(d *daemon) {
	for _, dep := range s.dependenciesOf(d) {
		s.apply(dep, input{kind: inStart, forDependent: true})
	}
}

func (s *Supervisor) op(op string, force bool, names []string) error {
	r := &opRequest{op: op, names: names, force: force, reply: make(chan error, 1)}
	if err := s.call(r); err != nil {
		return err
	}
	return <-r.reply
}

// Start starts the named daemons, their dependencies first. A failed or
// import_failed daemon is refused with a *RefusedError: it needs
// Restart with force. An unknown name gives an *UnknownDaemonError and
// changes nothing.
func (s *Supervisor) Start(names ...string) error { return s.op("start", false, names) }

// Stop stops the named daemons, their running dependents first; all of them
// stay stopped until started again.
func (s *Supervisor) Stop(names ...string) error { return s.op("stop", false, names) }

// Restart stops the named daemons (their running dependents first) and
// starts them all again. force also resets restart_count and last_error and
// is required for a failed or import_failed daemon.
func (s *Supervisor) Restart(force bool, names ...string) error {
	return s.op("restart", force, names)
}

// controlRequest is a shutdown or kill.
type controlRequest struct {
	kill  bool
	reply chan struct{}
}

func (r *controlRequest) handle(s *Supervisor) {
	if r.kill {
		s.kill()
	} else {
		s.shutdown()
	}
	close(r.reply)
}

// Shutdown begins a graceful shutdown, as when Run's context is done: every
// daemon stops, dependents first, and Run returns.
func (s *Supervisor) Shutdown() error {
	r := &controlRequest{reply: make(chan struct{})}
	if err := s.call(r); err != nil {
		return err
	}
	<-r.reply
	return nil
}

// Kill sends SIGKILL to every daemon's process group at once and shuts down.
func (s *Supervisor) Kill() error {
	r := &controlRequest{kill: true, reply: make(chan struct{})}
	if err := s.call(r); err != nil {
		return err
	}
	<-r.reply
	return nil
}

// ShuttingDown is closed when the shutdown begins (Shutdown, Kill, Run's
// context done), before the first daemon is told to stop, or when Run
// returns without one, before Done: what serves only a running
// supervisor, such as the config file's watch, can end while the daemons
// stop.
func (s *Supervisor) ShuttingDown() <-chan struct{} { return s.stopping }

// Done is closed when Run has returned.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Status is the state of the supervisor and its daemons, as `ctl status
// --json` shows it (SPEC.md).
type Status struct {
	Profile string                  `json:"profile"`
	Config  string                  `json:"config"`
	PID     int                     `json:"pid"`
	Daemons map[string]DaemonStatus `json:"daemons"`
}

// DaemonStatus is one daemon's entry in Status.
type DaemonStatus struct {
	// Daemon is the name of the daemon's table: the name without "@n"
	// of an instance.
	Daemon string `json:"daemon"`
	// Instance is the instance's number n, for an instance NAME@n.
	Instance     *int        `json:"instance,omitempty"`
	State        State       `json:"state"`
	PID          int         `json:"pid"`
	RestartCount int         `json:"restart_count"`
	UptimeS      float64     `json:"uptime_s"`
	Health       string      `json:"health"`
	HealthError  string      `json:"health_error"`
	LastExit     *ExitStatus `json:"last_exit"`
	LastError    string      `json:"last_error"`
	DependsOn    []string    `json:"depends_on"`
	// BackoffS is, while restarting, the seconds left before the restart.
	BackoffS float64 `json:"backoff_s"`
	// Done is set on a oneshot daemon whose command completed (exit 0).
	Done bool `json:"done"`
	// Leftovers are processes of the daemon that escaped its process
	// group (setsid) and outlived it; they are killed when it is stopped
	// for good and at shutdown.
	Leftovers []int `json:"leftovers,omitempty"`
	// Singleton is set on a singleton daemon (placement = "singleton"):
	// the node that holds it and its fence token, as this node last
	// heard from etcd.
	Singleton *SingletonStatus `json:"singleton,omitempty"`
}

// ExitStatus is how a daemon's process last ended: a code, or the name of
// the signal that killed it (Code is then -1).
type ExitStatus struct {
	Code   int    `json:"code"`
	Signal string `json:"signal"`
}

// Names returns the daemon names of st in order.
func (st Status) Names() []string {
	names := make([]string, 0, len(st.Daemons))
	for n := range st.Daemons {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type statusRequest struct {
	names []string
	reply chan statusReply
}

type statusReply struct {
	st  StatusList
	err error
}

func (r *statusRequest) handle(s *Supervisor) {
	st, err := s.status(r.names)
	r.reply <- statusReply{st, err}
}

// Status reports the named daemons, or all of them when names is empty.
// An unknown name gives an *UnknownDaemonError.
func (s *Supervisor) Status(names ...string) (Status, error) {
	st, err := s.StatusList(names...)
	if err != nil {
		return Status{}, err
	}
	return st.Status(), nil
}

// StatusList is Status with the daemons in a slice sorted by name, as
// `ctl status` prints them: the loop makes it without building a map, and
// a printer walks it without sorting.
func (s *Supervisor) StatusList(names ...string) (StatusList, error) {
	r := &statusRequest{names: names, reply: make(chan statusReply, 1)}
	if err := s.call(r); err != nil {
		return StatusList{}, err
	}
	rep := <-r.reply
	return rep.st, rep.err
}

func (s *Supervisor) status(names []string) (StatusList, error) {
	var ds []*daemon
	if len(names) > 0 {
		var err error
		if ds, err = s.lookup(names); err != nil {
			return StatusList{}, err
		}
	} else {
		ds = slices.Clone(s.order)
	}
	ds = sortedByName(ds)
	now := time.Now()
	st := StatusList{
		Profile: s.sel.name,
		Config:  s.opts.Config.Path,
		PID:     os.Getpid(),
		Daemons: make([]NamedDaemonStatus, len(ds)),
	}
	for i, d := range ds {
		ds := &st.Daemons[i].DaemonStatus
		st.Daemons[i].Name = d.name
		*ds = DaemonStatus{
			Daemon:       d.cfg.Template,
			Instance:     instanceOf(d),
			State:        shownState(d),
			PID:          d.rec.PID,
			RestartCount: d.rec.RestartCount,
			LastError:    d.rec.LastError,
			DependsOn:    append([]string{}, d.cfg.DependsOn...),
		}
		ds.Health, ds.HealthError = healthStatus(d)
		if d.rec.PID != 0 && d.rec.State == Running {
			ds.UptimeS = now.Sub(d.rec.Since).Seconds()
		}
		ds.Done = d.rec.Done
		ds.Singleton = singletonStatus(d)
		ds.Leftovers = slices.Clone(s.groups.leftoversOf(d.name))
		if d.rec.State == Restarting {
			ds.BackoffS = max(0, d.rec.Deadline.Sub(now).Seconds())
		}
		if x := d.rec.LastExit; x != nil {
			ds.LastExit = &ExitStatus{Code: x.Code}
			if x.Signal != 0 {
				ds.LastExit.Signal = procexec.SignalName(x.Signal)
			}
		}
	}
	return st, nil
}

// healthStatus returns what `ctl status` shows for d's health.
func healthStatus(d *daemon) (status, errText string) {
	if !healthCheckOf(d.cfg).watched() {
		return healthNone, ""
	}
	if d.rec.PID == 0 {
		return healthUnknown, d.health.LastErr
	}
	return d.health.Status, d.health.LastErr
}
