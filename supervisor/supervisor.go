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
	"sync"
	"syscall"
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
	// it is dropped. Default: the config's [events] subscriber_buffer, or
	// 1024.
	EventBuffer int
	// Prober runs http and tcp health probes. Default: health.NewProber().
	Prober Prober
	// Rand draws the restart delays' jitter. Default: a randomly seeded
	// source. The supervisor's loop is its only user.
	Rand *rand.Rand
	// Echo, if not nil, also receives every line of daemon output,
	// prefixed with the daemon's name (ringsup --echo).
	Echo *logfile.Echo
	// DaemonSockets, if not nil, gives each daemon that runs as another
	// user a control socket of its own (usersocket.go). Default: none;
	// such daemons get the supervisor's socket, which they cannot open.
	DaemonSockets DaemonSockets
}

// ErrNotRunning is returned by the methods of a Supervisor whose Run has
// returned (or was never called and its context is done).
var ErrNotRunning = errors.New("supervisor is not running")

// Supervisor runs the daemons of one config. Create it with New, then call
// Run; the other methods may be called from any goroutine while Run runs.
type Supervisor struct {
	opts    Options
	log     hclog.Logger
	path    string // the config file; fixed for the supervisor's life
	cfg     *config.Config
	wanted  string          // the profile asked for; "" means the default
	profile string          // the profile it resolved to ("" = all daemons)
	active  map[string]bool // the daemons the profile runs
	rt      Runtime
	rand    *rand.Rand

	daemons map[string]*daemon
	order   []*daemon // dependencies before dependents
	byPID   map[int]*daemon
	subs    map[*subscriber]struct{}
	// lingering holds the process groups whose leader has exited and
	// whose other members were sent SIGKILL, until they are empty.
	lingering map[int]struct{}
	// dying holds leftover processes sent SIGKILL, until they are gone.
	dying map[int]struct{}
	// leftoverOwners are the daemons whose leftovers are not empty.
	leftoverOwners map[*daemon]bool
	// leftoverScanDue says that processes exited since the last scan.
	leftoverScanDue bool
	// reapDue says that the last reap stopped at its first exit, and
	// more may be ready.
	reapDue bool
	// probes holds the exec health probes' processes until reaped.
	probes map[int]*probeExit
	// dueProbes collects the network probes due in one pass of the loop,
	// started together by startNetworkProbes; probeResults brings their
	// results back, in batches.
	dueProbes []networkProbe
	// spawnQueue holds the daemons whose processes schedule is about to
	// start, together.
	spawnQueue []*daemon
	// pendingEvents are the events of the loop's current pass, published
	// at its end.
	pendingEvents []Event
	probeResults  chan []probeResult
	// hooks holds the running hooks' processes until reaped; hookQueue the
	// runs waiting for a slot.
	// notices carries what daemons say about their readiness; notifyDir
	// holds their notification sockets.
	notices   chan notice
	notifyDir string
	hooks     map[int]*runningHook
	hookQueue []hookRun
	hookLog   *logfile.Writer
	// hookActions are the built-in actions of hooks fired in the current
	// pass, applied after it (emit.go); emits are the publishers' rate
	// limits.
	hookActions []hookAction
	emits       emitLimits
	userSockets map[string]userSocket // by daemon name

	shuttingDown bool
	timer        *time.Timer
	reloads      []*reloadRequest // waiting until no transition is under way

	requests chan request
	done     chan struct{} // closed when Run returns

	// early holds the subscribers made before Run started; its lock is
	// taken only by Subscribe and once by Run.
	early struct {
		sync.Mutex
		started bool
		subs    []*subscriber
	}
}

// daemon is the loop's record of one daemon.
type daemon struct {
	name       string
	cfg        *config.Daemon
	pol        policy
	rec        record
	deps       []*daemon // direct dependencies
	dependents []*daemon // direct dependents
	// stopPending is set when the daemon must stop once its dependents
	// are down; stopReason says what it does afterwards.
	stopPending bool
	stopReason  stopReason
	// removed is set when a reload dropped the daemon; it is forgotten
	// once it is down.
	removed bool
	out     *logfile.Writer      // its log file, set up at its first start
	notify  *health.NotifySocket // its notification socket (ready = "notify")
	// leftovers are processes of the daemon that escaped its process
	// group, found by scanLeftovers.
	leftovers []int
	outOpts   logfile.Options // the settings out was made with
	health    checker
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
	if opts.EventBuffer <= 0 && opts.Config != nil {
		opts.EventBuffer = opts.Config.Events.SubscriberBuffer
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
		opts:         opts,
		log:          opts.Logger,
		path:         cfg.Path,
		wanted:       opts.Profile,
		rt:           opts.Runtime,
		rand:         opts.Rand,
		daemons:      make(map[string]*daemon, len(cfg.Daemons)),
		byPID:        make(map[int]*daemon),
		subs:         make(map[*subscriber]struct{}),
		lingering:    make(map[int]struct{}),
		dying:        make(map[int]struct{}),
		probes:       make(map[int]*probeExit),
		hooks:        make(map[int]*runningHook),
		notices:      make(chan notice),
		probeResults: make(chan []probeResult),
		requests:     make(chan request),
		done:         make(chan struct{}),
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
	profile, active, err := cfg.Select(s.wanted)
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
	s.cfg, s.daemons, s.profile = cfg, daemons, profile
	s.active = make(map[string]bool, len(active))
	for _, name := range active {
		s.active[name] = true
	}
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
	defer s.rt.Close()
	defer s.closeLogs()
	defer s.closeUserSockets()

	if err := os.MkdirAll(s.cfg.Supervisor.LogDir, 0o755); err != nil {
		s.log.Error("cannot create log directory; daemon output is discarded",
			"log_dir", s.cfg.Supervisor.LogDir, "error", err)
	}
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	defer s.timer.Stop()

	s.log.Info("starting", "profile", s.profile, "daemons", len(s.active))
	for _, d := range s.order {
		if s.active[d.name] {
			s.apply(d, input{kind: inStart})
		}
	}

	ctxDone := ctx.Done()
	for {
		s.applyQueuedReload()
		s.schedule()
		if s.reapDue && s.reap(0) {
			continue // what those exits started or stopped
		}
		if s.leftoverScanDue {
			s.leftoverScanDue = false
			s.leftoversAfterExits()
		}
		s.forgetRemoved()
		if s.shuttingDown && s.allDown() {
			s.scanLeftovers()
			for d := range s.leftoverOwners {
				s.killLeftovers(d)
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
		if s.runHookActions() {
			continue // what they started or stopped
		}
		timerC := s.armTimer()
		select {
		case req := <-s.requests:
			req.handle(s)
		case <-s.rt.Exited():
			// One exit first: its restart goes out in this pass, before
			// the search for more (see procexec.ReapUpTo).
			s.reap(1)
		case <-timerC:
			s.fireDeadlines()
		case rs := <-s.probeResults:
			s.networkProbesDone(rs)
			s.drainProbeResults()
		case n := <-s.notices:
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
	prev := d.rec
	in.jitter = s.rand.Float64()*2 - 1
	next, acts := step(prev, d.pol, in, now)
	d.rec = next
	if prev.PID != next.PID {
		delete(s.byPID, prev.PID)
		if next.PID != 0 {
			s.byPID[next.PID] = d
		}
	}
	if prev.State != next.State {
		s.log.Debug("state", "daemon", d.name, "from", prev.State, "to", next.State, "input", in.kind)
	}
	if next.State == Stopped && prev.State != Stopped && len(d.leftovers) > 0 {
		s.killLeftovers(d)
	}
	switch {
	case prev.PID == 0 && next.PID != 0:
		s.healthStarted(d, now)
	case prev.PID != 0 && prev.State != Stopping && (next.PID == 0 || next.State == Stopping):
		s.healthStopped(d)
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
			s.log.Error("cannot signal daemon", "daemon", d.name, "signal", signalName(a.sig), "error", err)
		}
	case actKillGroup:
		// The leader is gone; whatever is left of its group goes with it.
		err := s.rt.Signal(a.pid, syscall.SIGKILL)
		switch {
		case err == nil:
			s.lingering[a.pid] = struct{}{}
		case !errors.Is(err, procexec.ErrNoProcess):
			s.log.Error("cannot kill process group", "daemon", d.name, "pgid", a.pid, "error", err)
		}
	case actEmit:
		s.publishFor(d, a.event)
	case actCascade:
		for _, dep := range s.dependentsOf(d) {
			if dep.rec.PID != 0 {
				s.requestStop(dep, startAgain)
			}
		}
	case actStopAsCrash:
		s.requestStop(d, asCrash)
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
	env[SocketEnv] = s.socketFor(d)
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
		if d.stopPending && !hasLiveDependent(d) {
			d.stopPending = false
			s.apply(d, input{kind: inStop, reason: d.stopReason})
		}
	}
	// The processes a pass starts are spawned together; a daemon that is
	// running once spawned lets its dependents start in the next pass.
	for again := true; again; again = s.spawnQueued() {
		for _, d := range s.order {
			if d.rec.State != Starting || d.rec.PID != 0 || d.stopPending {
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

// requestStop marks d to be stopped once its dependents are down. A stop
// that keeps the daemon down wins over the others.
func (s *Supervisor) requestStop(d *daemon, reason stopReason) {
	if d.stopPending && d.stopReason == stayDown {
		return
	}
	d.stopPending, d.stopReason = true, reason
}

// shutdown begins stopping every daemon, dependents first.
func (s *Supervisor) shutdown() {
	if !s.shuttingDown {
		s.log.Info("shutting down")
	}
	s.shuttingDown = true
	for _, d := range s.order {
		s.requestStop(d, stayDown)
	}
}

// kill sends SIGKILL to every daemon's group and every hook's at once,
// without waiting for dependents, and shuts down.
func (s *Supervisor) kill() {
	s.shutdown()
	s.hookQueue = nil
	for pid, h := range s.hooks {
		h.killAt = time.Time{}
		_ = s.rt.Signal(pid, syscall.SIGKILL)
	}
	for _, d := range s.order {
		if d.rec.PID == 0 {
			continue
		}
		if d.rec.State != Stopping {
			d.stopPending = false
			s.apply(d, input{kind: inStop, reason: stayDown})
		}
		if d.rec.PID != 0 {
			s.do(d, action{kind: actSignal, sig: syscall.SIGKILL}, time.Now())
		}
	}
}

// allDown reports whether no daemon has a process or a pending stop, and
// no hook is running or waiting (each is bounded by its timeout).
func (s *Supervisor) allDown() bool {
	if len(s.hooks) > 0 || len(s.hookQueue) > 0 {
		return false
	}
	for _, d := range s.order {
		if d.rec.PID != 0 || d.stopPending {
			return false
		}
	}
	return true
}

// reap collects exits, at most max (every one when max <= 0), and hands
// each to its daemon; it reports whether there were any. Exits of
// processes the supervisor did not start (adopted orphans) are only logged.
func (s *Supervisor) reap(max int) bool {
	exits, err := s.rt.Reap(max)
	if err != nil {
		s.log.Error("cannot reap", "error", err)
	}
	s.reapDue = max > 0 && len(exits) == max
	if len(exits) > 0 {
		// An exit may have left an escaped process to the supervisor: the
		// loop looks once the restarts are under way.
		s.leftoverScanDue = true
	}
	for _, x := range exits {
		if s.probeExited(x) || s.hookExited(x) {
			continue
		}
		d, ok := s.byPID[x.PID]
		if !ok {
			s.log.Debug("reaped orphan", "pid", x.PID, "exit", x.String())
			continue
		}
		s.apply(d, input{kind: inExit, exit: x})
	}
	if len(s.lingering) > 0 || len(s.dying) > 0 {
		s.pruneGroups()
	}
	return len(exits) > 0
}

// groupDrainTimeout bounds how long shutdown waits for the last members of
// killed process groups to die and be reaped.
const groupDrainTimeout = 5 * time.Second

// outputDrainTimeout bounds how long shutdown waits, once every process is
// gone, for their output still in the pipes: only a process outside the
// supervisor's tree that holds a pipe can make it wait that long.
const outputDrainTimeout = 2 * time.Second

// pruneGroups forgets the lingering process groups that are now empty,
// and the dying leftovers that are gone.
func (s *Supervisor) pruneGroups() {
	for pgid := range s.lingering {
		if errors.Is(s.rt.Signal(pgid, 0), procexec.ErrNoProcess) {
			delete(s.lingering, pgid)
		}
	}
	for pid := range s.dying {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			delete(s.dying, pid)
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
		if len(s.lingering) == 0 && len(s.dying) == 0 {
			return
		}
		select {
		case <-s.rt.Exited():
		case <-tick.C:
		case <-deadline.C:
			s.log.Warn("processes still not gone at exit", "groups", len(s.lingering), "leftovers", len(s.dying))
			return
		}
	}
}

// armTimer sets the timer to the earliest deadline and returns its channel,
// or nil when no daemon has a deadline.
func (s *Supervisor) armTimer() <-chan time.Time {
	first := earliest(s.hooksDeadline(), s.dropsDeadline())
	for _, d := range s.order {
		for _, dl := range []time.Time{d.rec.Deadline, d.health.deadline()} {
			if !dl.IsZero() && (first.IsZero() || dl.Before(first)) {
				first = dl
			}
		}
	}
	s.timer.Stop()
	if first.IsZero() {
		return nil
	}
	s.timer.Reset(time.Until(first))
	return s.timer.C
}

// fireDeadlines feeds inDeadline to every daemon whose deadline has passed,
// and runs the health and hook deadlines that have passed.
func (s *Supervisor) fireDeadlines() {
	now := time.Now()
	s.killLateHooks(now)
	s.reportDrops(now)
	for _, d := range s.order {
		if dl := d.rec.Deadline; !dl.IsZero() && !now.Before(dl) {
			s.apply(d, input{kind: inDeadline})
		}
		if dl := d.health.deadline(); !dl.IsZero() && !now.Before(dl) {
			s.fireHealth(d, now)
		}
	}
	s.startNetworkProbes()
}

func (s *Supervisor) closeLogs() {
	for _, d := range s.order {
		if d.out != nil {
			d.out.Close()
		}
	}
	if s.hookLog != nil {
		s.hookLog.Close()
	}
	for _, d := range s.order {
		if d.notify != nil {
			d.notify.Close()
		}
	}
	if s.notifyDir != "" {
		os.RemoveAll(s.notifyDir)
	}
}

func signalName(sig syscall.Signal) string { return config.SignalName(sig) }
