package supervisor

// This file is the loop: Run, the one goroutine that owns every daemon's
// state, and what it does between two waits: feed inputs to step and carry
// out its actions, start and stop daemons in dependency order, reap, and
// fire deadlines.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/guard"
	"github.com/ringrift/ringsup/health"
	"github.com/ringrift/ringsup/procexec"
)

// Run starts the daemons of the active profile and supervises them until ctx
// is done, then stops them all, dependents first, and returns once no
// daemon's process is left. It returns an error if it cannot start
// supervising at all, and an *UncleanShutdownError after a shutdown that
// had to kill a daemon or left processes. Run may be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	defer func() {
		if !s.life.shuttingDown {
			close(s.stopping) // Run ends without a shutdown: an error at its start
		}
	}()
	defer s.closeWaiters()
	s.takeEarlySubscribers()
	defer s.closeSubscribers()
	defer s.flushEvents() // before the subscribers are closed
	if s.rt == nil {
		rt, err := newOSRuntime(len(s.daemons))
		if err != nil {
			return err
		}
		s.rt = rt
	}
	s.probes = newProbeRunner(s.rt, s.opts.Prober, s.log, s.done)
	s.groups = newGroupTracker(s.rt, s.log)
	s.hooks = newHookRunner(s.rt, s.log, s.openHookLog)
	s.hooks.socket, s.hooks.failed = s.cfg.Supervisor.Socket, s.hookFailed
	defer s.rt.Close()
	defer s.closeLogs()
	defer func() { s.emits.sockets.closeAll(s.opts.DaemonSockets) }()

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
	s.startManager(time.Now())

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
		if s.life.shuttingDown && s.allDown() {
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
			return s.life.unclean.err()
		}
		s.flushEvents()
		if s.runHookActions() {
			continue // what they started or stopped
		}
		s.checkWaiters()
		s.tellManager()
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
		case v := <-s.place.verdicts:
			s.verdict(v)
		case <-ctxDone:
			ctxDone = nil
			s.shutdown()
		}
	}
}

// spawnQueued starts the processes of the daemons in the spawn queue, in
// one request to the runtime, and feeds each outcome back; it reports
// whether there were any.
func (s *Supervisor) spawnQueued() bool {
	queue := s.spawns.queue
	if len(queue) == 0 {
		return false
	}
	s.spawns.queue = nil
	if queue = s.dropLateGrants(queue); len(queue) == 0 {
		return true // they ask for fences again
	}
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
	if c := s.cfg.Cluster; c != nil {
		env["RINGSUP_NODE"] = c.Node
		if d.pol.Singleton {
			env["RINGSUP_FENCE_TOKEN"] = strconv.FormatInt(d.rec.Fence, 10)
		}
	}
	env[SocketEnv] = s.emits.sockets.socketFor(s.opts.DaemonSockets, s.log, s.cfg.Supervisor.Socket, d.name, d.cfg.User)
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
		if res, ok := config.RlimitByName(name); ok {
			out[res] = procexec.Rlimit{Cur: v, Max: v, Name: name}
		}
	}
	return out
}

// schedule carries out what waits on other daemons: pending stops whose
// dependents are down (dependents first), then starts whose dependencies are
// running (dependencies first). Walking the topological order makes one pass
// enough for each.
//
// Only the daemons the watchlist marks due are looked at; one found with
// nothing left to schedule is unmarked.
func (s *Supervisor) schedule() {
	w := &s.watch // the order does not change during a pass
	for i := w.prevDue(len(s.order) - 1); i >= 0; i = w.prevDue(i - 1) {
		s.stopIfDue(s.order[i])
	}
	// The processes a pass starts are spawned together; a daemon that is
	// running once spawned lets its dependents start in the next pass.
	for again := true; again; again = s.spawnQueued() {
		for i := w.nextDue(0); i >= 0; i = w.nextDue(i + 1) {
			d := s.order[i]
			if !d.awaitsSchedule() {
				w.clearDue(i)
				continue
			}
			if d.rec.State != Starting || d.rec.PID != 0 || d.rec.StopDue {
				continue
			}
			switch dep := blockingDependency(d); {
			case dep == nil:
				s.apply(d, input{kind: inDepsReady})
			case dep.downForGood():
				err := fmt.Errorf("dependency %q is %s", dep.name, dep.rec.State)
				s.apply(d, input{kind: inDepFailed, err: err})
			case d.rec.Candidate:
				// A singleton's node campaigns only while its
				// dependencies run.
				s.apply(d, input{kind: inDepsDown})
			}
		}
	}
}

// shutdown begins stopping every daemon, dependents first.
func (s *Supervisor) shutdown() {
	if !s.life.shuttingDown {
		s.log.Info("shutting down")
		close(s.stopping)
		if s.opts.Manager != nil {
			s.opts.Manager.Stopping()
		}
		s.rt.StopAll()
	}
	s.life.shuttingDown = true
	// Dependents first, so that a daemon whose dependents have no process
	// stops in this walk rather than in the next pass's: with hundreds of
	// daemons, a walk over them all takes milliseconds.
	for i := len(s.order) - 1; i >= 0; i-- {
		d := s.order[i]
		s.apply(d, input{kind: inStopDue, reason: stayDown})
		s.stopIfDue(d)
	}
}

// stopIfDue stops d if it is due to stop and none of its dependents has a
// process left.
func (s *Supervisor) stopIfDue(d *daemon) {
	if d.rec.StopDue && !hasLiveDependent(d) {
		s.apply(d, input{kind: inStop, reason: d.rec.DueReason})
	}
}

// kill sends SIGKILL to every daemon's group and every hook's at once,
// without waiting for dependents, and shuts down.
func (s *Supervisor) kill() {
	s.shutdown()
	s.hooks.killAll()
	for _, d := range s.order {
		if d.rec.PID != 0 {
			s.life.unclean.killedAll = true
			s.apply(d, input{kind: inKill})
		}
	}
}

// allDown reports whether no daemon has a process or a pending stop, no
// hook is running or waiting (each is bounded by its timeout), and no exec
// probe is left to reap (a daemon's probe is killed when it stops).
func (s *Supervisor) allDown() bool {
	if !s.hooks.idle() || !s.probes.idle() {
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
			s.life.unclean.left = len(s.groups.lingering) + len(s.groups.dying)
			return
		}
	}
}

// armTimer sets the timer to the earliest deadline and returns its channel,
// or nil when no daemon has a deadline.
func (s *Supervisor) armTimer(timer *time.Timer) <-chan time.Time {
	first := earliest(earliest(s.hooks.deadline(), s.dropsDeadline()), s.life.mgr.watchdogDeadline())
	first = earliest(first, s.watch.earliestDeadline())
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
	s.life.mgr.fireWatchdog(s.opts.Manager, s.opts.WatchdogInterval, now)
	s.hooks.killLate(now)
	s.reportDrops(now)
	// Only the daemons whose deadline has passed: applying an input may
	// change any deadline (the heap), so they are listed first.
	for _, i := range s.watch.passedBy(now) {
		d := s.order[i]
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

// probesDone takes probes' outcomes.
func (s *Supervisor) probesDone(rs []probeResult) {
	now := time.Now()
	for _, r := range rs {
		if d, ok := s.daemons[r.name]; ok {
			s.feedHealth(d, healthInput{kind: hProbeDone, incarnation: r.incarnation, err: r.err}, now)
		}
	}
}

// drainProbeResults takes the results that are ready without waiting, so
// that a batch of probes costs one pass of the loop.
func (s *Supervisor) drainProbeResults() {
	for {
		select {
		case rs := <-s.probes.Results():
			s.probesDone(rs)
		default:
			return
		}
	}
}

// noticeReceived acts on what a daemon said: ready, or alive (watchdog).
func (s *Supervisor) noticeReceived(n notice) {
	d, ok := s.daemons[n.name]
	if !ok || d.rec.PID == 0 || d.rec.State == Stopping {
		return
	}
	now := time.Now()
	if n.pipe {
		s.feedHealth(d, healthInput{kind: hPipeReady, incarnation: n.incarnation}, now)
		return
	}
	// Datagrams from outside the daemon's process group (a process of an
	// earlier run, say) are not about this process.
	if n.msg.PID != 0 {
		if pgid, err := s.rt.Getpgid(int(n.msg.PID)); err != nil || pgid != d.rec.PID {
			s.log.Debug("notification from outside the daemon's group dropped", "daemon", d.name, "pid", n.msg.PID)
			return
		}
	}
	s.feedHealth(d, healthInput{kind: hNotified, ready: n.msg.Ready, watchdog: n.msg.Watchdog, status: n.msg.Status}, now)
}

// forgetRemoved drops the daemons a reload removed once they are down.
func (s *Supervisor) forgetRemoved() {
	if s.watch.removed == 0 {
		return
	}
	forgot := false
	for i := 0; i < len(s.order); i++ {
		d := s.order[i]
		if !d.removed || d.rec.PID != 0 || d.rec.StopDue {
			continue
		}
		if d.out != nil {
			d.out.Close()
		}
		if d.notify != nil {
			d.notify.Close()
		}
		s.emits.sockets.close(s.opts.DaemonSockets, d.name)
		delete(s.daemons, d.name)
		s.order = slices.Delete(s.order, i, i+1)
		i--
		forgot = true
	}
	if forgot {
		s.reindex()
	}
}

// startManager begins watching start-up for Ready (manager.go); Run calls
// it once the active daemons were told to start.
func (s *Supervisor) startManager(now time.Time) {
	if s.opts.Manager == nil {
		return
	}
	goals := make(map[string]Goal, len(s.sel.active))
	for n := range s.sel.active {
		goals[n] = GoalUp
	}
	w := s.newWaiter(goals)
	s.life.mgr.start(w, s.opts.WatchdogInterval > 0, now)
}

// tellManager reports, at the end of a pass, start-up's end and a change
// of the daemons' states.
func (s *Supervisor) tellManager() {
	if s.opts.Manager == nil {
		return
	}
	s.life.mgr.tell(s.opts.Manager, s.statusLine(), s.life.shuttingDown)
}

// verdict applies what the cluster said about a singleton.
func (s *Supervisor) verdict(v Verdict) {
	d := s.daemons[v.Daemon]
	if d == nil || !d.pol.Singleton {
		return
	}
	switch v.Kind {
	case VerdictGranted:
		d.leaseDeadline = v.Deadline
		s.apply(d, input{kind: inFenceGranted, fence: v.Fence, ask: v.Ask})
	case VerdictDeadline:
		d.leaseDeadline = v.Deadline
		s.feedGuard(d, guard.Line(v.Deadline))
	case VerdictLost:
		s.apply(d, input{kind: inFenceLost, why: v.Reason, gone: v.Gone})
	case VerdictOwner:
		d.owner = SingletonStatus{Owner: v.Owner, Fence: v.Fence}
	}
}
