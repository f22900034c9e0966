// Package supervisor runs the daemons of a config as child processes: it
// starts them in dependency order, restarts them with backoff when they exit,
// cascades a crash to their dependents, and stops them dependents first.
//
// One goroutine, the loop started by Run, owns every daemon's state. Other
// goroutines talk to it through the exported methods, which send a request
// and wait for its reply. Per-daemon decisions are made by a pure function
// (step.go); the loop carries out what it returns and handles everything
// that spans several daemons.
//
// Where each part of a daemon's life lives. Its state machine is step
// (step.go): a pure, total function of its record, its policy, an input and
// the time, which returns the next record and the actions to carry out;
// every state change, restart delay, stop that waits for its dependents and
// consequence of an exit is decided there, as is a singleton's placement
// (its fences, its candidacy, which follows its dependencies, and its
// guard), and docs/states.md is drawn from it. Its health and readiness are healthStep (health.go), pure and total
// too: it says when to probe and what an outcome, a notification or a
// missed watchdog means, and its verdicts reach step as inReady and
// inUnhealthy. act.go carries both out: apply feeds step and does its
// actions, feedHealth feeds healthStep and does its verdict. The loop
// (loop.go) waits for requests, exits, its timer (one deadline per daemon:
// the earliest of its record's and its health's), probe results and
// notifications, and does what involves several daemons: starts in
// dependency order, stops dependents first, reaps; graph.go says who waits
// for whom. Three parts of the loop run what is not a daemon, each a type
// of its own: probeRunner (probes.go) the health probes, hookRunner
// (hooks.go) the hooks, and groupTracker (leftover.go) what is left of a
// daemon's process group after it exits. Every process and system call goes
// through Runtime (runtime.go), which the tests replace with a fake.
// ready.go sets up the readiness channels and output.go the log files; the
// exported methods (api.go, reload.go, profile.go, subscribe.go, waiting.go)
// only send requests to the loop. At the end of each pass the loop reports
// the daemons that settled to the waiting operations (settle.go) and the
// daemons' states to the service manager (manager.go); shutdown.go says
// whether the shutdown was clean.
package supervisor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/health"
	"github.com/ringrift/ringsup/logfile"
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
	// Manager, if not nil, is told when start-up is done, of reloads, of
	// the shutdown and of changes of the daemons' states (manager.go).
	Manager Manager
	// WatchdogInterval, with Manager, is how often the loop calls
	// Manager.Watchdog; 0: never.
	WatchdogInterval time.Duration
	// DaemonSockets, if not nil, gives each daemon that runs as another
	// user a control socket of its own (usersocket.go). Default: none;
	// such daemons get the supervisor's socket, which they cannot open.
	DaemonSockets DaemonSockets
}

// ErrNotRunning is returned by the methods of a Supervisor whose Run has
// returned (or was never called and its context is done).
var ErrNotRunning = errors.New("supervisor is not running")

// ErrShuttingDown is returned (wrapped) by what would change the running
// daemons once shutdown has begun: Start, Stop, Restart, Reload and
// SetProfile.
var ErrShuttingDown = errors.New("shutting down")

// Supervisor runs the daemons of one config. Create it with New, then call
// Run; the other methods may be called from any goroutine while Run runs.
type Supervisor struct {
	opts Options
	log  hclog.Logger
	cfg  *config.Config
	sel  selection // the active profile
	rt   Runtime

	daemons map[string]*daemon
	order   []*daemon // dependencies before dependents
	watch   watchlist // what each pass tests first, by position in order
	byPID   map[int]*daemon
	events  eventHub // the event stream
	emits   emitter  // what daemons publish themselves (emit.go)
	// The loop's parts: hooks runs the hooks, probes the health probes,
	// and groups follows what is left of daemons' process groups.
	hooks  *hookRunner
	probes *probeRunner
	groups *groupTracker
	// spawns is what schedule is about to start, together (loop.go).
	spawns spawnBatch
	notify notifier // what daemons say about their readiness

	// life is the supervisor's own life: the shutdown, and who is told
	// of it and of the daemons settling.
	life    lifecycle
	changes pendingChanges // reloads and scales (reload.go, scale.go)

	requests chan request
	stopping chan struct{}  // closed when the shutdown begins
	done     chan struct{}  // closed when Run returns
	place    *PlacementLink // singletons' fences (fence.go)

}

// spawnBatch is what the loop is about to start: the daemons whose
// processes schedule starts together, and the count of processes spawned
// so far, which numbers each one's health checks.
type spawnBatch struct {
	queue        []*daemon
	incarnations uint64
}

// pendingChanges are the config changes the loop holds: reloads waiting
// until no transition is under way, and the counts of instances set by
// Scale, which later reloads keep.
type pendingChanges struct {
	reloads []*reloadRequest
	scales  scaleCounts
}

// lifecycle is the supervisor's own life as others see it.
type lifecycle struct {
	// shuttingDown: the shutdown began; nothing starts any more.
	shuttingDown bool
	// unclean says what made the shutdown unclean (shutdown.go).
	unclean shutdownReport
	// waiters are the waiting operations' reports (settle.go).
	waiters waiterList
	// mgr is the service manager's side (Options.Manager; manager.go).
	mgr managerState
}

// daemon is the loop's record of one daemon.
type daemon struct {
	name       string
	pos        int // its index in Supervisor.order
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
	owner   SingletonStatus   // a singleton's holder, as the cluster last said
	// A singleton's guard (fencing.go): the write end of its pipe while its
	// copy runs, and the lease deadline D last heard.
	guard         *os.File
	leaseDeadline time.Duration
	// local is the policy a reload gave a singleton it made local, while
	// the singleton's copy stops under pol (unplace.go).
	local *policy
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
		opts:     opts,
		log:      opts.Logger,
		sel:      selection{wanted: opts.Profile},
		rt:       opts.Runtime,
		daemons:  make(map[string]*daemon, len(cfg.Daemons)),
		byPID:    make(map[int]*daemon),
		events:   eventHub{subs: make(map[*subscriber]struct{})},
		notify:   notifier{notices: make(chan notice)},
		requests: make(chan request),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.place = newPlacementLink(s.done)
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
	deps := cfg.Deps()
	order, err := cfg.Graph().Order()
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
		d.cfg = cfg.Daemons[name]
		d.setPolicy(policyOf(d.cfg))
		d.deps, d.dependents = nil, nil
		daemons[name] = d
		s.order = append(s.order, d)
	}
	for _, d := range s.order {
		for _, dep := range deps[d.name] {
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
	s.reindex()
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
		Singleton:   d.Singleton(),
	}
}

// request is a message to the loop. Each carries its own reply channel,
// buffered so the loop never waits for a caller.
type request interface {
	handle(s *Supervisor)
}

// call sends req to the loop, or gives up with ErrNotRunning once Run has
// returned.
func (s *Supervisor) call(req request) error {
	select {
	case s.requests <- req:
		return nil
	case <-s.done:
		return ErrNotRunning
	}
}

// selection is the active profile.
type selection struct {
	wanted string          // the profile asked for; "" means the default
	name   string          // the profile it resolved to ("" = all daemons)
	active map[string]bool // the daemons it runs
}

// selectProfile resolves the profile wanted in cfg.
func selectProfile(cfg *config.Config, wanted string) (selection, error) {
	name, active, err := cfg.Select(wanted)
	if err != nil {
		return selection{}, err
	}
	sel := selection{wanted: wanted, name: name, active: make(map[string]bool, len(active))}
	for _, n := range active {
		sel.active[n] = true
	}
	return sel, nil
}

// reloadRequest is a reload read and validated by Reload, waiting in the
// loop until nothing is under way (reload.go).
type reloadRequest struct {
	cfg *config.Config
	// scale, instead of cfg, is a Scale: the running config with another
	// count of instances, made when the request is applied.
	scale *scaleOp
	reply chan reloadReply
}

type reloadReply struct {
	summary ReloadSummary
	err     error
}

// notifier carries what daemons say about their readiness to the loop.
type notifier struct {
	// notices receives from the goroutines that read the daemons'
	// notification sockets and readiness pipes.
	notices chan notice
	// dir holds the notification sockets; made at the first.
	dir string
}

// notice is something a daemon said about its readiness, forwarded to the
// loop from the goroutine that reads its socket or pipe.
type notice struct {
	name string
	// pipe: a newline on the readiness pipe of process incarnation.
	pipe        bool
	incarnation uint64
	// msg: a notification datagram (merged when several came at once).
	msg health.NotifyMessage
}
