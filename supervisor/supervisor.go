// Package supervisor runs the daemons of a config as child processes: it
// starts them in dependency order, restarts them with backoff when they exit,
// cascades a crash to their dependents, and stops them dependents first.
//
// One goroutine, the loop started by Run, owns every daemon's state. Other
// goroutines talk to it through the exported methods, which send a request
// and wait for its reply. Per-daemon decisions are made by a pure function
// (step.go); the loop carries out what it returns and handles everything
// that spans several daemons.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/depgraph"
	"github.com/ringrift/ringsup/health"
	"github.com/ringrift/ringsup/logfile"
	"github.com/ringrift/ringsup/procexec"
)

// Options configure a Supervisor.
type Options struct {
	// Config is the validated config to run. Required.
	Config *config.Config
	// Profile names the profile to run; "" means the config's
	// default_profile, or every daemon when it has none.
	Profile string
	// Logger receives the supervisor's own log. Default: no logging.
	Logger hclog.Logger
	// Runtime starts and reaps processes. Default: real processes through
	// procexec, with the supervisor made a child subreaper when Run starts.
	Runtime Runtime
	// EventBuffer is how many events a subscriber may fall behind before
	// it is dropped. Default 1024.
	EventBuffer int
	// Prober runs http and tcp health probes. Default: health.NewProber().
	Prober Prober
	// Rand draws the restart delays' jitter. Default: a randomly seeded
	// source. The supervisor's loop is its only user.
	Rand *rand.Rand
	// Echo, if not nil, also receives every line of daemon output,
	// prefixed with the daemon's name (ringsup --echo).
	Echo *logfile.Echo
}

// ErrNotRunning is returned by the methods of a Supervisor whose Run has
// returned (or was never called and its context is done).
var ErrNotRunning = errors.New("supervisor is not running")

// Supervisor runs the daemons of one config. Create it with New, then call
// Run; the other methods may be called from any goroutine while Run runs.
type Supervisor struct {
	opts Options
	log  hclog.Logger
	path string // the config file; fixed for the supervisor's life
	cfg  *config.Config
	sel  selection // the active profile
	rt   Runtime

	daemons map[string]*daemon
	order   []*daemon // dependencies before dependents
	byPID   map[int]*daemon
	events  eventHub // the event stream
	// The loop's parts: hooks runs the hooks, probes the health probes,
	// and groups follows what is left of daemons' process groups.
	hooks  *hookRunner
	probes *probeRunner
	groups *groupTracker
	// incarnations numbers the processes spawned, for their health checks.
	incarnations uint64
	// spawnQueue holds the daemons whose processes schedule is about to
	// start, together.
	spawnQueue []*daemon
	notify     notifier // what daemons say about their readiness

	shuttingDown bool
	reloads      []*reloadRequest // waiting until no transition is under way

	requests chan request
	done     chan struct{} // closed when Run returns

}

// daemon is the loop's record of one daemon.
type daemon struct {
	name       string
	cfg        *config.Daemon
	pol        policy
	rec        record
	deps       []*daemon // direct dependencies
	dependents []*daemon // direct dependents
	// removed is set when a reload dropped the daemon; it is forgotten
	// once it is down.
	removed bool
	out     *logfile.Writer      // its log file, set up at its first start
	notify  *health.NotifySocket // its notification socket (ready = "notify")
	outOpts logfile.Options      // the settings out was made with
	health  healthState
	pipe    *health.ReadyPipe // the readiness pipe of its process (ready = "fd:N")
}

// New prepares a supervisor for opts.Config and opts.Profile. It starts
// nothing: Run does. It fails if the profile is unknown.
func New(opts Options) (*Supervisor, error) {
	if opts.Config == nil {
		return nil, errors.New("cannot create supervisor: no config")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 1024
	}
	if opts.Prober == nil {
		opts.Prober = health.NewProber()
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	cfg := opts.Config
	s := &Supervisor{
		opts:     opts,
		log:      opts.Logger,
		path:     cfg.Path,
		sel:      selection{wanted: opts.Profile},
		rt:       opts.Runtime,
		daemons:  make(map[string]*daemon, len(cfg.Daemons)),
		byPID:    make(map[int]*daemon),
		events:   eventHub{subs: make(map[*subscriber]struct{})},
		notify:   notifier{notices: make(chan notice)},
		requests: make(chan request),
		done:     make(chan struct{}),
	}
	if err := s.install(cfg, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// install makes cfg the running config: it builds the daemon table in
// dependency order, keeping the record (state, process, counters) of every
// daemon that was already there. removed daemons, still stopping, stay at
// the end of the order, linked only among themselves, until they are down.
func (s *Supervisor) install(cfg *config.Config, removed []*daemon) error {
	order, err := depgraph.New(cfg.Deps()).Order()
	if err != nil {
		return fmt.Errorf("cannot order daemons: %w", err)
	}
	sel, err := selectProfile(cfg, s.sel.wanted)
	if err != nil {
		return err
	}
	daemons := make(map[string]*daemon, len(cfg.Daemons)+len(removed))
	s.order = s.order[:0]
	for _, name := range order {
		d := s.daemons[name]
		if d == nil || d.removed {
			d = &daemon{name: name}
		}
		d.cfg, d.pol = cfg.Daemons[name], policyOf(cfg.Daemons[name])
		d.deps, d.dependents = nil, nil
		daemons[name] = d
		s.order = append(s.order, d)
	}
	for _, d := range s.order {
		for _, dep := range d.cfg.DependsOn {
			dd := daemons[dep]
			d.deps = append(d.deps, dd)
			dd.dependents = append(dd.dependents, d)
		}
	}
	for _, d := range removed {
		d.removed = true
	}
	notRemoved := func(x *daemon) bool { return !x.removed }
	for _, d := range removed {
		d.deps = slices.DeleteFunc(d.deps, notRemoved)
		d.dependents = slices.DeleteFunc(d.dependents, notRemoved)
		daemons[d.name] = d
		s.order = append(s.order, d)
	}
	s.cfg, s.daemons, s.sel = cfg, daemons, sel
	return nil
}

func policyOf(d *config.Daemon) policy {
	return policy{
		AutoRestart: d.AutoRestart,
		MaxRestarts: d.MaxRestarts,
		BackoffMin:  d.BackoffMin,
		BackoffMax:  d.BackoffMax,
		StableAfter: d.StableAfter,
		StopSignal:  d.StopSignal,
		StopTimeout: d.StopTimeout,
		NeedsReady:  d.Health != nil || d.Ready != "",
		Jitter:      d.BackoffJitter,
		Oneshot:     d.Type == config.TypeOneshot,
	}
}

// Run starts the daemons of the active profile and supervises them until ctx
// is done, then stops them all, dependents first, and returns once no
// daemon's process is left. It returns an error only if it cannot start
// supervising at all. Run may be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	s.takeEarlySubscribers()
	defer s.closeSubscribers()
	defer s.flushEvents() // before the subscribers are closed
	if s.rt == nil {
		rt, err := newOSRuntime()
		if err != nil {
			return err
		}
		s.rt = rt
	}
	s.probes = newProbeRunner(s.rt, s.opts.Prober, s.log, s.done)
	s.groups = newGroupTracker(s.rt, s.log)
	s.hooks = newHookRunner(s.rt, s.log, s.openHookLog)
	defer s.rt.Close()
	defer s.closeLogs()

	if err := os.MkdirAll(s.cfg.Supervisor.LogDir, 0o755); err != nil {
		s.log.Error("cannot create log directory; daemon output is discarded",
			"log_dir", s.cfg.Supervisor.LogDir, "error", err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	reapDue := false // the last reap stopped at its first exit; more may be ready

	s.log.Info("starting", "profile", s.sel.name, "daemons", len(s.sel.active))
	for _, d := range s.order {
		if s.sel.active[d.name] {
			s.apply(d, input{kind: inStart})
		}
	}

	ctxDone := ctx.Done()
	for {
		s.applyQueuedReload()
		s.schedule()
		if reapDue {
			reapDue = false
			if s.reap(0) > 0 {
				continue // what those exits started or stopped
			}
		}
		if s.groups.scanDue {
			s.leftoversAfterExits()
		}
		s.forgetRemoved()
		if s.shuttingDown && s.allDown() {
			s.scanLeftovers()
			for _, name := range s.groups.owners() {
				s.groups.killLeftovers(name)
			}
			s.awaitGroups(groupDrainTimeout)
			// What the last processes wrote before they exited is in
			// their pipes still: their logs get it before they close.
			if !s.rt.AwaitOutput(outputDrainTimeout) {
				s.log.Warn("daemon output still arriving at exit; the rest is lost", "waited", outputDrainTimeout)
			}
			s.flushEvents() // the last stops, before the line that ends them
			s.log.Info("all daemons stopped")
			return nil
		}
		s.flushEvents()
		timerC := s.armTimer(timer)
		select {
		case req := <-s.requests:
			req.handle(s)
		case <-s.rt.Exited():
			// One exit first: its restart goes out in this pass, before
			// the search for more (see procexec.ReapUpTo).
			reapDue = s.reap(1) == 1
		case <-timerC:
			s.fireDeadlines()
		case rs := <-s.probes.Results():
			s.probesDone(rs)
			s.drainProbeResults()
		case n := <-s.notify.notices:
			s.noticeReceived(n)
		case <-ctxDone:
			ctxDone = nil
			s.shutdown()
		}
	}
}

// apply feeds one input to a daemon's state machine and carries out the
// actions it returns.
func (s *Supervisor) apply(d *daemon, in input) {
	now := time.Now()
	prev := d.rec.State
	in.jitter = s.opts.Rand.Float64()*2 - 1
	var acts []action
	d.rec, acts = step(d.rec, d.pol, in, now)
	if prev != d.rec.State {
		s.log.Debug("state", "daemon", d.name, "from", prev, "to", d.rec.State, "input", in.kind)
	}
	for _, a := range acts {
		s.do(d, a, now)
	}
}

// do carries out one action of step.
func (s *Supervisor) do(d *daemon, a action, now time.Time) {
	switch a.kind {
	case actSpawn:
		// schedule starts the processes of a pass together.
		s.spawnQueue = append(s.spawnQueue, d)
	case actSignal:
		if err := s.rt.Signal(d.rec.PID, a.sig); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
			s.log.Error("cannot signal daemon", "daemon", d.name, "signal", procexec.SignalName(a.sig), "error", err)
		}
	case actKillGroup:
		// The leader is gone; whatever is left of its group goes with it.
		s.groups.killGroup(d.name, a.pid)
	case actEmit:
		s.publishFor(d, a.event)
	case actCascade:
		for _, dep := range s.dependentsOf(d) {
			if dep.rec.PID != 0 {
				s.apply(dep, input{kind: inStopDue, reason: startAgain})
			}
		}
	case actHealthStart:
		s.healthStarted(d, now)
	case actHealthStop:
		s.healthStopped(d, now)
	case actKillLeftovers:
		s.groups.killLeftovers(d.name)
	}
}

// spawnQueued starts the processes of the daemons in the spawn queue, in
// one request to the runtime, and feeds each outcome back; it reports
// whether there were any.
func (s *Supervisor) spawnQueued() bool {
	queue := s.spawnQueue
	if len(queue) == 0 {
		return false
	}
	s.spawnQueue = nil
	specs := make([]procexec.Spec, 0, len(queue))
	pipes := make([]*health.ReadyPipe, len(queue))
	errs := make([]error, len(queue))
	at := make([]int, len(queue)) // where each daemon's spec is in specs; -1: none
	for i, d := range queue {
		var spec procexec.Spec
		spec, pipes[i], errs[i] = s.spawnSpec(d)
		at[i] = -1
		if errs[i] == nil {
			at[i] = len(specs)
			specs = append(specs, spec)
		}
	}
	pids, spawnErrs := s.rt.SpawnAll(specs)
	for i, d := range queue {
		pid, err := 0, errs[i]
		if at[i] >= 0 {
			pid, err = pids[at[i]], spawnErrs[at[i]]
			if err != nil {
				err = fmt.Errorf("cannot start %q: %w", d.name, err)
			}
		}
		if err != nil && pipes[i] != nil {
			pipes[i].Close()
		}
		var execErr *procexec.ExecError
		switch {
		case errors.As(err, &execErr):
			s.apply(d, input{kind: inSpawnFailed, err: err})
		case err != nil:
			s.log.Error("cannot start daemon", "daemon", d.name, "error", err)
			s.apply(d, input{kind: inSpawnError, err: err})
		default:
			s.byPID[pid] = d
			s.apply(d, input{kind: inSpawned, pid: pid})
			if pipes[i] != nil {
				s.readyStarted(d, pipes[i])
			}
		}
	}
	return true
}

// spawnSpec returns what starts d's process, its output going to its log
// file, with its readiness channel when it has one.
func (s *Supervisor) spawnSpec(d *daemon) (procexec.Spec, *health.ReadyPipe, error) {
	env := maps.Clone(d.cfg.Env)
	if env == nil {
		env = make(map[string]string)
	}
	extra := make(map[int]*os.File)
	pipe, err := s.prepareReadiness(d, env, extra)
	if err != nil {
		return procexec.Spec{}, nil, fmt.Errorf("cannot start %q: %w", d.name, err)
	}
	out := s.logWriter(d)
	return procexec.Spec{
		Name:   d.name,
		Argv:   d.cfg.Command,
		Dir:    d.cfg.WorkingDir,
		Env:    env,
		User:   d.cfg.User,
		Output: out,
		// A line the process left unfinished is ended as soon as its
		// output ends, not only when the next process starts.
		OnOutputEnd: out.EndLine,
		ExtraFiles:  extra,
		Rlimits:     rlimits(d.cfg.Rlimits),
		Umask:       d.cfg.Umask,
	}, pipe, nil
}

// rlimits turns config's named limits into procexec's.
func rlimits(named map[string]uint64) map[int]procexec.Rlimit {
	if len(named) == 0 {
		return nil
	}
	out := make(map[int]procexec.Rlimit, len(named))
	for name, v := range named {
		if res, ok := procexec.RlimitByName(name); ok {
			out[res] = procexec.Rlimit{Cur: v, Max: v}
		}
	}
	return out
}

// schedule carries out what waits on other daemons: pending stops whose
// dependents are down (dependents first), then starts whose dependencies are
// running (dependencies first). Walking the topological order makes one pass
// enough for each.
func (s *Supervisor) schedule() {
	for i := len(s.order) - 1; i >= 0; i-- {
		d := s.order[i]
		if d.rec.StopDue && !hasLiveDependent(d) {
			s.apply(d, input{kind: inStop, reason: d.rec.DueReason})
		}
	}
	// The processes a pass starts are spawned together; a daemon that is
	// running once spawned lets its dependents start in the next pass.
	for again := true; again; again = s.spawnQueued() {
		for _, d := range s.order {
			if d.rec.State != Starting || d.rec.PID != 0 || d.rec.StopDue {
				continue
			}
			switch dep := blockingDependency(d); {
			case dep == nil:
				s.apply(d, input{kind: inDepsReady})
			case !dep.satisfies() && (dep.rec.State == Stopped || dep.rec.State == Failed || dep.rec.State == ImportFailed):
				err := fmt.Errorf("dependency %q is %s", dep.name, dep.rec.State)
				s.apply(d, input{kind: inDepFailed, err: err})
			}
		}
	}
}

// blockingDependency returns a dependency of d that is not ready for it,
// giving one that is down for good before one that is on its way; nil when
// every dependency is ready: running, or for a oneshot, done.
func blockingDependency(d *daemon) *daemon {
	var waiting *daemon
	for _, dep := range d.deps {
		switch {
		case dep.satisfies():
		case dep.rec.State == Stopped, dep.rec.State == Failed, dep.rec.State == ImportFailed:
			return dep
		default:
			if waiting == nil {
				waiting = dep
			}
		}
	}
	return waiting
}

// satisfies reports whether d is what its dependents wait for: running, or
// for a oneshot, done.
func (d *daemon) satisfies() bool {
	if d.pol.Oneshot {
		return d.rec.State == Stopped && d.rec.Done
	}
	return d.rec.State == Running
}

func hasLiveDependent(d *daemon) bool {
	for _, dep := range d.dependents {
		if dep.rec.PID != 0 {
			return true
		}
	}
	return false
}

// dependentsOf returns every daemon that depends on d, directly or not.
func (s *Supervisor) dependentsOf(d *daemon) []*daemon {
	return reachable(d, func(x *daemon) []*daemon { return x.dependents })
}

// dependenciesOf returns every daemon d depends on, directly or not.
func (s *Supervisor) dependenciesOf(d *daemon) []*daemon {
	return reachable(d, func(x *daemon) []*daemon { return x.deps })
}

// reachable returns the daemons reachable from d through next, d excluded,
// each once, the farthest first.
func reachable(d *daemon, next func(*daemon) []*daemon) []*daemon {
	seen := map[*daemon]bool{d: true}
	var out []*daemon
	var walk func(*daemon)
	walk = func(x *daemon) {
		for _, y := range next(x) {
			if !seen[y] {
				seen[y] = true
				walk(y)
				out = append(out, y)
			}
		}
	}
	walk(d)
	return out
}

// shutdown begins stopping every daemon, dependents first.
func (s *Supervisor) shutdown() {
	if !s.shuttingDown {
		s.log.Info("shutting down")
	}
	s.shuttingDown = true
	for _, d := range s.order {
		s.apply(d, input{kind: inStopDue, reason: stayDown})
	}
}

// kill sends SIGKILL to every daemon's group and every hook's at once,
// without waiting for dependents, and shuts down.
func (s *Supervisor) kill() {
	s.shutdown()
	s.hooks.killAll()
	for _, d := range s.order {
		if d.rec.PID != 0 {
			s.apply(d, input{kind: inKill})
		}
	}
}

// allDown reports whether no daemon has a process or a pending stop, and
// no hook is running or waiting (each is bounded by its timeout).
func (s *Supervisor) allDown() bool {
	if !s.hooks.idle() {
		return false
	}
	for _, d := range s.order {
		if d.rec.PID != 0 || d.rec.StopDue {
			return false
		}
	}
	return true
}

// reap collects exits, at most max (every one when max <= 0), and hands
// each to its daemon, probe or hook; it returns how many there were. Exits
// of processes the supervisor did not start (adopted orphans) are only
// logged.
func (s *Supervisor) reap(max int) int {
	exits, err := s.rt.Reap(max)
	if err != nil {
		s.log.Error("cannot reap", "error", err)
	}
	if len(exits) > 0 {
		// An exit may have left an escaped process to the supervisor: the
		// loop looks once the restarts are under way.
		s.groups.scanDue = true
	}
	for _, x := range exits {
		if r, counts, ok := s.probes.exited(x); ok {
			if counts {
				s.probesDone([]probeResult{r})
			}
			continue
		}
		if s.hooks.exited(x) {
			continue
		}
		d, ok := s.byPID[x.PID]
		if !ok {
			s.log.Debug("reaped orphan", "pid", x.PID, "exit", x.String())
			continue
		}
		delete(s.byPID, x.PID)
		s.apply(d, input{kind: inExit, exit: x})
	}
	s.groups.prune()
	return len(exits)
}

// groupDrainTimeout bounds how long shutdown waits for the last members of
// killed process groups to die and be reaped.
const groupDrainTimeout = 5 * time.Second

// outputDrainTimeout bounds how long shutdown waits, once every process is
// gone, for their output still in the pipes: only a process outside the
// supervisor's tree that holds a pipe can make it wait that long.
const outputDrainTimeout = 2 * time.Second

// scanLeftovers refreshes every daemon's leftovers (leftover.go) from the
// supervisor's children.
func (s *Supervisor) scanLeftovers() {
	s.groups.scan(s.known, func(name string) bool { _, ok := s.daemons[name]; return ok })
}

// known reports whether pid is a process the supervisor started (or a
// member of a daemon's group).
func (s *Supervisor) known(pid int) bool {
	if _, ok := s.byPID[pid]; ok || s.probes.owns(pid) || s.hooks.owns(pid) {
		return true
	}
	pgid, err := s.rt.Getpgid(pid)
	if err != nil {
		return true // gone already
	}
	_, inGroup := s.byPID[pgid]
	return inGroup || s.groups.lingers(pgid)
}

// leftoversAfterExits scans for leftovers and kills those of the daemons
// that are stopped for good.
func (s *Supervisor) leftoversAfterExits() {
	s.scanLeftovers()
	for _, name := range s.groups.owners() {
		if d := s.daemons[name]; d.rec.State == Stopped || d.removed {
			s.groups.killLeftovers(name)
		}
	}
}

// awaitGroups reaps until every lingering process group is empty, so that
// the supervisor exits leaving no process and no zombie: members killed
// with their leader die a moment after it, and come back to the supervisor,
// the subreaper, to be reaped. It gives up after timeout.
func (s *Supervisor) awaitGroups(timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.reap(0)
		if s.groups.settled() {
			return
		}
		select {
		case <-s.rt.Exited():
		case <-tick.C:
		case <-deadline.C:
			s.log.Warn("processes still not gone at exit", "groups", len(s.groups.lingering), "leftovers", len(s.groups.dying))
			return
		}
	}
}

// armTimer sets the timer to the earliest deadline and returns its channel,
// or nil when no daemon has a deadline.
func (s *Supervisor) armTimer(timer *time.Timer) <-chan time.Time {
	first := s.hooks.deadline()
	for _, d := range s.order {
		if dl := d.deadline(); !dl.IsZero() && (first.IsZero() || dl.Before(first)) {
			first = dl
		}
	}
	timer.Stop()
	if first.IsZero() {
		return nil
	}
	timer.Reset(time.Until(first))
	return timer.C
}

// deadline is the one deadline of d the loop arms its timer for: the
// earliest of its state machine's (record.Deadline) and its health
// checks'. Each is kept by its own step, which decides what passing it
// means.
func (d *daemon) deadline() time.Time {
	rd, hd := d.rec.Deadline, d.health.deadline()
	if rd.IsZero() || (!hd.IsZero() && hd.Before(rd)) {
		return hd
	}
	return rd
}

// fireDeadlines feeds inDeadline to every daemon whose deadline has passed,
// and hDeadline to those whose health deadline has, and kills the hooks
// past theirs.
func (s *Supervisor) fireDeadlines() {
	now := time.Now()
	s.hooks.killLate(now)
	for _, d := range s.order {
		if dl := d.deadline(); dl.IsZero() || now.Before(dl) {
			continue
		}
		if dl := d.rec.Deadline; !dl.IsZero() && !now.Before(dl) {
			s.apply(d, input{kind: inDeadline})
		}
		if dl := d.health.deadline(); !dl.IsZero() && !now.Before(dl) {
			s.feedHealth(d, healthInput{kind: hDeadline}, now)
		}
	}
	s.probes.flush()
}

func (s *Supervisor) closeLogs() {
	for _, d := range s.order {
		if d.out != nil {
			d.out.Close()
		}
	}
	if s.hooks.out != nil {
		s.hooks.out.Close()
	}
	for _, d := range s.order {
		if d.notify != nil {
			d.notify.Close()
		}
	}
	if s.notify.dir != "" {
		os.RemoveAll(s.notify.dir)
	}
}
