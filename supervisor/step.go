package supervisor

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// This file holds the per-daemon state machine as one pure function, step.
// It knows nothing of other daemons, processes or goroutines: the loop feeds
// it inputs and carries out the actions it returns. Everything that involves
// several daemons (waiting for dependencies, stopping dependents first,
// cascades) is the loop's.

// inputKind is what happened to a daemon.
type inputKind int

const (
	// inStart: the daemon is wanted up (profile, `ctl start`, cascade over).
	inStart inputKind = iota
	// inDepsReady: it is starting and every dependency is running; spawn.
	inDepsReady
	// inSpawned: its process was started with input.pid.
	inSpawned
	// inSpawnFailed: its command could not be executed (input.err).
	inSpawnFailed
	// inSpawnError: starting failed for another reason (input.err), such as
	// running out of file descriptors; retried like a crash.
	inSpawnError
	// inExit: its process exited (input.exit).
	inExit
	// inStop: stop it, and afterwards do what input.reason says. The loop
	// sends it only once every dependent is down.
	inStop
	// inRestart: `ctl restart`; input.force also resets the restart count
	// and is needed to leave failed and import_failed.
	inRestart
	// inDeadline: its deadline passed.
	inDeadline
	// inDepFailed: a dependency ended failed or import_failed (input.err).
	inDepFailed
	// inReady: its process reported ready (first passing probe, or a
	// readiness notification).
	inReady
	// inUnhealthy: its process is alive but unhealthy (input.err) and must
	// be treated as an unexpected exit: stopped, then restarted with
	// backoff or failed.
	inUnhealthy
	// inStopDue: stop it once its dependents are down, and afterwards do
	// what input.reason says; a stop that keeps it down wins over the
	// others. The loop's schedule sends inStop when the time comes.
	inStopDue
	// inKill: SIGKILL its process group now and keep it down (Kill).
	inKill
	// inFenceGranted: a singleton's fence passed (input.fence is its
	// token): this node holds it, and may spawn it once.
	inFenceGranted
	// inFenceLost: a singleton's node lease is about to expire, or has
	// (input.why): stop its copy before another node can hold it.
	inFenceLost
	// inDepsDown: it is starting, with no process, and a dependency is not
	// running but on its way (starting, restarting, stopping). The loop
	// sends it only to a singleton's candidate (record.Candidate), which
	// withdraws; a dependency down for good is inDepFailed.
	inDepsDown
)

var inputNames = [...]string{
	inStart: "start", inDepsReady: "deps_ready", inSpawned: "spawned",
	inSpawnFailed: "spawn_failed", inSpawnError: "spawn_error", inExit: "exit",
	inStop: "stop", inRestart: "restart", inDeadline: "deadline",
	inDepFailed: "dep_failed", inReady: "ready", inUnhealthy: "unhealthy",
	inStopDue: "stop_due", inKill: "kill", inFenceGranted: "fence_granted",
	inFenceLost: "fence_lost", inDepsDown: "deps_down",
}

func (k inputKind) String() string { return inputNames[k] }

// allInputs lists every input kind; the transition test walks them all.
func allInputs() []inputKind {
	return []inputKind{inStart, inDepsReady, inSpawned, inSpawnFailed, inSpawnError,
		inExit, inStop, inRestart, inDeadline, inDepFailed, inReady, inUnhealthy,
		inStopDue, inKill, inFenceGranted, inFenceLost, inDepsDown}
}

// stopReason says what a stopping daemon does once its process is gone.
type stopReason int

const (
	// stayDown: become stopped (operator stop, shutdown, removal).
	stayDown stopReason = iota
	// startAgain: become starting, and start again once every dependency
	// is running (a cascade, `ctl restart`, a reload).
	startAgain
	// asCrash: handle the exit as an unexpected one (an unhealthy daemon).
	asCrash
)

type input struct {
	kind inputKind
	// jitter is a random number in [-1, 1) drawn by the loop for each
	// input, which spreads a restart delay by policy.Jitter.
	jitter float64
	pid    int
	exit   procexec.Exit
	err    error
	reason stopReason
	force  bool
	// fence is the token of inFenceGranted, and ask the request it
	// answers (record.Ask); why is the reason of inFenceLost (a
	// SINGLETON_LOST reason).
	fence int64
	ask   int64
	why   string
	// gone, on inFenceLost: the node's lease is gone already; its copy
	// is SIGKILLed at once.
	gone bool
	// forDependent, on inStart: the daemon is wanted up because a daemon
	// that depends on it is started or restarted. A done oneshot stays
	// done: it satisfies its dependents already.
	forDependent bool
	// depStopping, on inStopDue: the daemon is to stop because a daemon
	// it depends on stops. A singleton then stops as in a cascade
	// (startAgain): it stays wanted, and its node campaigns again once
	// its dependencies run; another node holds it meanwhile.
	depStopping bool
}

// record is the part of a daemon's state the state machine decides on.
type record struct {
	State        State
	PID          int       // process (group) id while one exists, else 0
	RestartCount int       // restarts since the last stable period or --force
	Since        time.Time // when the process was spawned (uptime)
	Deadline     time.Time // zero: none. Restarting: start again; stopping: SIGKILL; running: stable reset
	After        stopReason
	Killed       bool // stopping: SIGKILL already sent
	LastExit     *procexec.Exit
	LastError    string
	// Done: a oneshot daemon whose command exited 0; it is stopped, and
	// satisfies its dependents.
	Done bool
	// StopDue: the daemon is to stop once its dependents are down (the
	// loop's schedule then sends inStop); DueReason says what it does
	// afterwards. Set by inStopDue, cleared by inStop, inStart, inRestart
	// and inKill, in any state.
	StopDue   bool
	DueReason stopReason
	// A singleton's placement (fence.go). Fence is the token of the
	// fence this node holds, 0 when it holds none; Granted says that a
	// fence passed for the next spawn, which uses it up; Fencing says
	// that the node asked for one and waits. Candidate says that the
	// node campaigns: set when it asks for a fence (actFence), cleared
	// when it withdraws (actWithdraw). Ask numbers its requests for a
	// fence: a grant that answers an earlier one, made for a candidacy
	// withdrawn since, is stale.
	Fence     int64
	Granted   bool
	Fencing   bool
	Candidate bool
	Ask       int64
}

// policy is a daemon's restart and stop configuration.
type policy struct {
	AutoRestart bool
	MaxRestarts int
	BackoffMin  time.Duration
	BackoffMax  time.Duration
	StableAfter time.Duration
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// NeedsReady: the daemon is running only once it reports ready (it
	// has a health probe or a `ready` setting).
	NeedsReady bool
	// Jitter spreads each restart delay within ±Jitter of itself.
	Jitter float64
	// Oneshot: the daemon is done, not crashed, when it exits 0.
	Oneshot bool
	// Singleton: the daemon runs on one node of the cluster at a time,
	// and only after a fence passed (fence.go).
	Singleton bool
}

// actionKind is something the loop must do for a daemon.
type actionKind int

const (
	// actSpawn: start the daemon's process and feed back inSpawned,
	// inSpawnFailed or inSpawnError.
	actSpawn actionKind = iota
	// actSignal: send action.sig to its process group.
	actSignal
	// actKillGroup: SIGKILL what is left of the exited process's group
	// (action.pid), so nothing a daemon started outlives it.
	actKillGroup
	// actEmit: publish action.event (the loop adds the daemon and time).
	actEmit
	// actCascade: the daemon left running unexpectedly; stop its running
	// dependents and bring them back once it is running again. (Dependents
	// waiting for a daemon that ended failed give up in the loop's
	// schedule, which sees the state.)
	actCascade
	// actHealthStart: its process was spawned; start checking its health
	// and readiness (healthStep's hSpawned).
	actHealthStart
	// actHealthStop: its process is gone or going; stop checking it, and
	// drop the results still on their way (healthStep's hGone).
	actHealthStop
	// actKillLeftovers: it came to rest stopped; SIGKILL the processes
	// that escaped its process group (leftover.go).
	actKillLeftovers
	// actFence: a singleton is to spawn; ask the cluster for a fence,
	// which comes back as inFenceGranted.
	actFence
	// actWithdraw: a singleton came to rest down with no process, or
	// its dependencies are not running; give up its candidacy, and
	// publish action.event (SINGLETON_LOST) when it has a type.
	actWithdraw
	// actGuardStart: a singleton's copy was spawned as process group
	// action.pid; start its guard, which SIGKILLs the group at the lease
	// deadline D unless D was extended (fencing.go).
	actGuardStart
	// actGuardRelease: a singleton's copy is gone; let its guard exit
	// without killing.
	actGuardRelease
)

var actionNames = [...]string{
	actSpawn: "spawn", actSignal: "signal", actKillGroup: "kill_group", actEmit: "emit",
	actCascade: "cascade", actHealthStart: "health_start", actHealthStop: "health_stop",
	actKillLeftovers: "kill_leftovers", actFence: "fence", actWithdraw: "withdraw",
	actGuardStart: "guard_start", actGuardRelease: "guard_release",
}

func (k actionKind) String() string { return actionNames[k] }

type action struct {
	kind  actionKind
	sig   syscall.Signal
	pid   int
	event Event
}

func emit(e Event) action { return action{kind: actEmit, event: e} }

// errMaxRestarts is the last_error of a daemon that ran out of restarts.
var errMaxRestarts = errors.New("too many restarts")

// step returns the daemon's next record and the actions to carry out when
// input in happens at time now. It is pure and total: every (state, input)
// pair is decided, most of them as "nothing changes".
//
// Two things are decided here for every state: the stop that waits for
// the daemon's dependents (record.StopDue), and a daemon that comes to
// rest stopped takes the processes that escaped its group with it.
func step(r record, p policy, in input, now time.Time) (record, []action) {
	switch in.kind {
	case inStopDue:
		reason := in.reason
		if p.Singleton && in.depStopping && reason == stayDown {
			reason = startAgain
		}
		return stopDue(r, reason), nil
	case inStart, inRestart, inStop:
		r.StopDue = false
	case inFenceGranted, inFenceLost:
		return stepFence(r, p, in, now)
	case inDepsDown:
		return depsDown(r, p)
	case inDepFailed:
		if p.Singleton {
			return depsDown(r, p)
		}
	}
	var next record
	var acts []action
	switch r.State {
	case Stopped, Failed, ImportFailed:
		next, acts = stepDown(r, p, in, now)
	case Starting:
		next, acts = stepStarting(r, p, in, now)
	case Running:
		next, acts = stepRunning(r, p, in, now)
	case Stopping:
		next, acts = stepStopping(r, p, in, now)
	case Restarting:
		next, acts = stepRestarting(r, p, in, now)
	default:
		panic(fmt.Sprintf("step: unknown state %v", r.State))
	}
	if next.State == Stopped && r.State != Stopped {
		acts = append(acts, action{kind: actKillLeftovers})
	}
	if p.Singleton {
		next, acts = placed(r, next, acts)
	}
	return next, acts
}

// stepDown handles stopped, failed and import_failed: no process, not wanted.
func stepDown(r record, _ policy, in input, _ time.Time) (record, []action) {
	switch in.kind {
	case inStart:
		if r.State != Stopped {
			return r, nil // failed daemons need restart --force
		}
		if r.Done && in.forDependent {
			return r, nil // satisfied: it runs again only when named
		}
		r.State, r.LastError, r.Done = Starting, "", false
	case inRestart:
		if r.State != Stopped && !in.force {
			return r, nil
		}
		if in.force {
			r.RestartCount = 0
		}
		r.State, r.LastError, r.Done = Starting, "", false
	case inDepsReady, inSpawned, inSpawnFailed, inSpawnError, inExit, inStop,
		inDeadline, inDepFailed, inReady, inUnhealthy, inStopDue, inKill,
		inFenceGranted, inFenceLost, inDepsDown:
		// Nothing to do: no process and nothing wanted. (The fences are
		// stepFence's, deps_down depsDown's.)
	}
	return r, nil
}

// stepStarting handles a daemon waiting for its dependencies (PID 0) or
// whose process was just spawned.
func stepStarting(r record, p policy, in input, now time.Time) (record, []action) {
	switch in.kind {
	case inDepsReady:
		switch {
		case r.PID != 0:
		case !p.Singleton:
			return r, []action{{kind: actSpawn}}
		case r.Granted:
			r.Granted = false
			return r, []action{{kind: actSpawn}}
		case !r.Fencing:
			r.Fencing, r.Candidate = true, true
			r.Ask++
			return r, []action{{kind: actFence}}
		}
	case inSpawned:
		if r.PID != 0 {
			return r, nil
		}
		r.PID, r.Since = in.pid, now
		acts := []action{{kind: actHealthStart}}
		if p.NeedsReady {
			return r, acts // running once it reports ready
		}
		r, more := becomeRunning(r, p, now)
		return r, append(acts, more...)
	case inReady:
		if r.PID != 0 {
			return becomeRunning(r, p, now)
		}
	case inUnhealthy:
		if r.PID != 0 {
			r.LastError = in.err.Error()
			return beginStop(r, p, asCrash, now)
		}
	case inSpawnFailed:
		if r.PID != 0 {
			return r, nil
		}
		r.State, r.LastError, r.Deadline = ImportFailed, in.err.Error(), time.Time{}
		return r, []action{emit(Event{Type: DaemonImportFailed, Error: r.LastError})}
	case inSpawnError:
		if r.PID != 0 {
			return r, nil
		}
		r.LastError = in.err.Error()
		return crashed(r, p, now, nil, in.jitter)
	case inExit:
		if r.PID != 0 && in.exit.PID == r.PID {
			return crashed(r, p, now, &in.exit, in.jitter)
		}
	case inStop:
		if r.PID != 0 {
			return beginStop(r, p, in.reason, now)
		}
		if in.reason == stayDown {
			r.State = Stopped
			return r, []action{emit(Event{Type: DaemonStopped})}
		}
	case inDepFailed:
		if r.PID == 0 {
			r.State, r.LastError = Stopped, in.err.Error()
			return r, []action{emit(Event{Type: DaemonStopped, Error: r.LastError})}
		}
	case inRestart:
		if in.force {
			r.RestartCount, r.LastError = 0, ""
		}
	case inKill:
		if r.PID != 0 {
			return killNow(r)
		}
		// Not spawned yet: the stop due since the shutdown keeps it down.
	case inDeadline:
		// Starting has no deadline of its own; readiness is timed by the
		// health checks, which send inUnhealthy.
	case inStart, inStopDue, inFenceGranted, inFenceLost, inDepsDown:
		// Already on its way up; inStopDue, the fences and deps_down are
		// step's.
	}
	return r, nil
}

// stopDue marks the daemon to stop once its dependents are down, and then
// to do what reason says; a stop due that keeps it down is kept.
func stopDue(r record, reason stopReason) record {
	if !r.StopDue || r.DueReason != stayDown {
		r.StopDue, r.DueReason = true, reason
	}
	return r
}

// killNow sends SIGKILL to a daemon's live process, which is to stay down.
func killNow(r record) (record, []action) {
	r.State, r.After, r.Killed, r.Deadline, r.StopDue = Stopping, stayDown, true, time.Time{}, false
	return r, []action{{kind: actHealthStop}, {kind: actSignal, sig: syscall.SIGKILL}}
}

// becomeRunning makes a spawned daemon running.
func becomeRunning(r record, p policy, now time.Time) (record, []action) {
	r.State, r.Since = Running, now
	r.Deadline = stableDeadline(r, p, now)
	return r, []action{emit(Event{Type: DaemonStarted, PID: r.PID})}
}

func stepRunning(r record, p policy, in input, now time.Time) (record, []action) {
	switch in.kind {
	case inExit:
		if in.exit.PID != r.PID {
			return r, nil
		}
		if p.Oneshot && in.exit.Success() {
			exit := in.exit
			r.State, r.Done, r.LastExit, r.PID = Stopped, true, &exit, 0
			r.LastError, r.Deadline = "", time.Time{}
			return r, []action{
				{kind: actHealthStop},
				{kind: actKillGroup, pid: exit.PID},
				emit(withExit(Event{Type: DaemonStopped}, exit)),
			}
		}
		return crashed(r, p, now, &in.exit, in.jitter)
	case inStop:
		return beginStop(r, p, in.reason, now)
	case inRestart:
		// The loop stops it once its dependents are down.
		if in.force {
			r.RestartCount, r.LastError = 0, ""
		}
	case inDeadline:
		if !r.Deadline.IsZero() && !now.Before(r.Deadline) {
			r.RestartCount, r.Deadline = 0, time.Time{}
		}
	case inUnhealthy:
		// Handled as a crash once its dependents are down: the loop stops
		// them first, then stops this one with reason asCrash.
		r.LastError = in.err.Error()
		return stopDue(r, asCrash), []action{{kind: actHealthStop}, {kind: actCascade}}
	case inKill:
		return killNow(r)
	case inStart, inDepsReady, inSpawned, inSpawnFailed, inSpawnError, inDepFailed, inReady, inStopDue,
		inFenceGranted, inFenceLost, inDepsDown:
		// Already running (the fences are stepFence's); a dependency's failure reaches a running daemon
		// as a cascade stop instead.
	}
	return r, nil
}

func stepStopping(r record, p policy, in input, now time.Time) (record, []action) {
	switch in.kind {
	case inExit:
		if in.exit.PID != r.PID {
			return r, nil
		}
		if r.After == asCrash {
			lastError := r.LastError
			r.Killed = false
			r, acts := crashed(r, p, now, &in.exit, in.jitter)
			r.LastError = lastError + " (" + r.LastError + ")"
			return r, acts
		}
		exit := in.exit
		r.LastExit, r.PID, r.Deadline, r.Killed = &exit, 0, time.Time{}, false
		acts := []action{
			{kind: actKillGroup, pid: exit.PID},
			emit(withExit(Event{Type: DaemonStopped}, exit)),
		}
		if r.After == stayDown {
			r.State = Stopped
		} else {
			r.State = Starting
		}
		return r, acts
	case inDeadline:
		if !r.Killed && !r.Deadline.IsZero() && !now.Before(r.Deadline) {
			r.Killed, r.Deadline = true, time.Time{}
			return r, []action{{kind: actSignal, sig: syscall.SIGKILL}}
		}
	case inStop:
		// A stronger wish wins: stay down beats come back or crash.
		if in.reason == stayDown {
			r.After = stayDown
		}
	case inStart:
		if r.After == stayDown {
			r.After = startAgain
		}
	case inRestart:
		if in.force {
			r.RestartCount, r.LastError = 0, ""
		}
		r.After = startAgain
	case inKill:
		// What it does once down is left as it was.
		r.Killed, r.Deadline = true, time.Time{}
		return r, []action{{kind: actSignal, sig: syscall.SIGKILL}}
	case inDepsReady, inSpawned, inSpawnFailed, inSpawnError, inDepFailed, inReady, inUnhealthy, inStopDue,
		inFenceGranted, inFenceLost, inDepsDown:
		// Going down already (the fences are stepFence's).
	}
	return r, nil
}

func stepRestarting(r record, _ policy, in input, now time.Time) (record, []action) {
	switch in.kind {
	case inDeadline:
		if !r.Deadline.IsZero() && !now.Before(r.Deadline) {
			r.State, r.Deadline = Starting, time.Time{}
		}
	case inStart:
		r.State, r.Deadline = Starting, time.Time{}
	case inRestart:
		if in.force {
			r.RestartCount, r.LastError = 0, ""
		}
		r.State, r.Deadline = Starting, time.Time{}
	case inStop:
		if in.reason == stayDown {
			r.State, r.Deadline = Stopped, time.Time{}
			return r, []action{emit(Event{Type: DaemonStopped})}
		}
	case inDepFailed:
		r.State, r.Deadline, r.LastError = Stopped, time.Time{}, in.err.Error()
		return r, []action{emit(Event{Type: DaemonStopped, Error: r.LastError})}
	case inDepsReady, inSpawned, inSpawnFailed, inSpawnError, inExit, inReady, inUnhealthy, inStopDue, inKill,
		inFenceGranted, inFenceLost, inDepsDown:
		// No process; waiting for the delay (the fences are stepFence's). A kill leaves it to the stop
		// due since the shutdown.
	}
	return r, nil
}

// beginStop signals the daemon's group and arms the SIGKILL deadline; its
// health is no longer checked.
func beginStop(r record, p policy, after stopReason, now time.Time) (record, []action) {
	r.State, r.After, r.Killed = Stopping, after, false
	r.Deadline = now.Add(p.StopTimeout)
	return r, []action{{kind: actHealthStop}, {kind: actSignal, sig: p.StopSignal}}
}

// crashed handles an unexpected end of the daemon: an exit while starting or
// running (exit non-nil) or a failure to spawn (exit nil). jitter in [-1, 1)
// spreads the restart delay by p.Jitter.
func crashed(r record, p policy, now time.Time, exit *procexec.Exit, jitter float64) (record, []action) {
	wasRunning := r.State == Running
	acts := make([]action, 0, 6) // a crash's most: one allocation
	if exit != nil && r.State != Stopping {
		acts = append(acts, action{kind: actHealthStop}) // stopping: done already
	}
	if exit != nil {
		e := *exit
		r.LastExit, r.PID, r.LastError = &e, 0, "exited unexpectedly: "+e.String()
		acts = append(acts, action{kind: actKillGroup, pid: e.PID},
			emit(withExit(Event{Type: DaemonExited}, e)))
	}
	r.Deadline = time.Time{}
	if wasRunning {
		acts = append(acts, action{kind: actCascade})
	}
	switch {
	case !p.AutoRestart && exit != nil && exit.Success():
		r.State, r.LastError = Stopped, ""
		acts = append(acts, emit(Event{Type: DaemonStopped}))
	case !p.AutoRestart:
		r.State = Failed
		acts = append(acts, emit(Event{Type: DaemonFailed, Error: r.LastError}))
	case r.RestartCount >= p.MaxRestarts:
		r.State = Failed
		r.LastError = fmt.Sprintf("%v: %d restarts (max_restarts %d); last: %s",
			errMaxRestarts, r.RestartCount, p.MaxRestarts, r.LastError)
		acts = append(acts, emit(Event{Type: DaemonFailed, Error: r.LastError}))
	default:
		delay := backoff(p.BackoffMin, p.BackoffMax, r.RestartCount)
		delay = time.Duration(float64(delay) * (1 + p.Jitter*jitter))
		r.RestartCount++
		r.State, r.Deadline = Restarting, now.Add(delay)
		if delay <= 0 {
			// No delay: start again at once, without a timer's round trip.
			r.State, r.Deadline = Starting, time.Time{}
		}
		count, secs := r.RestartCount, delay.Seconds()
		acts = append(acts, emit(Event{Type: DaemonRestarting, RestartCount: &count, DelayS: &secs}))
	}
	return r, acts
}

// stableDeadline is when a daemon that started at now has been running long
// enough for its restart count to reset; zero when there is nothing to reset.
func stableDeadline(r record, p policy, now time.Time) time.Time {
	if r.RestartCount == 0 || p.StableAfter <= 0 {
		return time.Time{}
	}
	return now.Add(p.StableAfter)
}

// withExit fills in an event's exit_code or signal.
func withExit(e Event, x procexec.Exit) Event {
	if x.Signal != 0 {
		e.Signal = procexec.SignalName(x.Signal)
	} else {
		code := x.Code
		e.ExitCode = &code
	}
	return e
}

// stepFence is step for the two fence inputs, in every state. A grant is
// taken only by a singleton waiting for one, and only if it answers its
// latest request; a loss stops a live copy at once (the stop deadline
// then falls before the lease's), or brings a stop under way forward, and
// forgets the fence. A loss whose lease is gone already kills the copy
// at once.
func stepFence(r record, p policy, in input, now time.Time) (record, []action) {
	if !p.Singleton {
		return r, nil
	}
	switch in.kind {
	case inFenceGranted:
		if r.State != Starting || r.PID != 0 || !r.Fencing {
			return r, nil // no longer waiting: the next spawn asks again
		}
		if in.ask != r.Ask {
			// It answers a request of a candidacy withdrawn since: its
			// key is gone, and another node may hold the singleton.
			return r, nil
		}
		r.Fencing, r.Granted = false, true
		var acts []action
		if in.fence != r.Fence {
			fence := in.fence
			acts = append(acts, emit(Event{Type: SingletonAcquired, Fence: &fence}))
		}
		r.Fence = in.fence
		return r, acts
	case inFenceLost:
		if r.Fence == 0 && !r.Granted {
			return r, nil
		}
		r.Fence, r.Granted = 0, false
		acts := []action{emit(Event{Type: SingletonLost, Reason: in.why})}
		switch r.State {
		case Running, Starting:
			if r.PID == 0 {
				break
			}
			// Started again once a fence passes again: on this node if
			// its lease was renewed in time, else wherever one passes.
			var more []action
			r, more = beginStop(r, p, startAgain, now)
			r.StopDue = false
			if in.gone {
				r.Killed, r.Deadline = true, time.Time{}
				more = []action{{kind: actHealthStop}, {kind: actSignal, sig: syscall.SIGKILL}}
			}
			acts = append(acts, more...)
		case Stopping:
			if in.gone && !r.Killed {
				r.Killed, r.Deadline = true, time.Time{}
				acts = append(acts, action{kind: actSignal, sig: syscall.SIGKILL})
			} else if by := now.Add(p.StopTimeout); !r.Killed && (r.Deadline.IsZero() || r.Deadline.After(by)) {
				r.Deadline = by
			}
		case Stopped, Failed, ImportFailed, Restarting:
			// No process.
		}
		return r, acts
	}
	return r, nil
}

// depsDown is step for a singleton one of whose dependencies is not
// running (inDepsDown; inDepFailed when it is down for good), in every
// state. Without a process, its node withdraws, and loses the singleton
// if it held it (SINGLETON_LOST, dependency), so that a node whose
// dependencies run can hold it; it campaigns again once every dependency
// runs (inDepsReady). Unlike a local daemon it does not give up when a
// dependency is down for good: it stays wanted, waiting, while another
// node runs it. With a process, nothing: the cascade or the stop of the
// dependency stops the copy, and the node withdraws once it is gone. A
// failed one keeps its candidacy (see placed).
func depsDown(r record, p policy) (record, []action) {
	if !p.Singleton || r.PID != 0 {
		return r, nil
	}
	switch r.State {
	case Starting, Restarting:
		r.Fencing, r.Granted = false, false
		if !r.Candidate {
			return r, nil
		}
		r, a := withdraw(r, LostDependency)
		return r, []action{a}
	case Stopped, Failed, ImportFailed, Running, Stopping:
		// Not a candidate, or one that keeps its candidacy (failed); a
		// running or stopping one has a process.
	}
	return r, nil
}

// withdraw gives up the node's candidacy for a singleton; a node that
// held its fence loses it (SINGLETON_LOST, reason).
func withdraw(r record, reason string) (record, action) {
	a := action{kind: actWithdraw}
	if r.Fence != 0 {
		a.event = Event{Type: SingletonLost, Reason: reason}
	}
	r.Candidate, r.Fencing, r.Granted, r.Fence = false, false, false, 0
	return r, a
}

// placed finishes step for a singleton that went from prev to next: only
// a daemon that is starting waits for or holds a fence; a copy that was
// spawned gets a guard, and one that is gone lets it go; and one that
// comes to rest stopped withdraws its candidacy. (One that ends failed
// keeps it, so that a crash loop does not roam from node to node.)
func placed(prev, next record, acts []action) (record, []action) {
	if next.State != Starting {
		next.Fencing, next.Granted = false, false
	}
	switch {
	case prev.PID == 0 && next.PID != 0:
		acts = append([]action{{kind: actGuardStart, pid: next.PID}}, acts...)
	case prev.PID != 0 && next.PID == 0:
		acts = append(acts, action{kind: actGuardRelease})
	}
	switch next.State {
	case Stopped:
		if next.Candidate || next.Fence != 0 {
			var a action
			next, a = withdraw(next, LostStopped)
			acts = append(acts, a)
		}
	case Failed, ImportFailed:
		if next.Fence != 0 {
			acts = append(acts, emit(Event{Type: SingletonLost, Reason: LostFailed}))
			next.Fence = 0
		}
	case Starting, Running, Stopping, Restarting:
	}
	return next, acts
}
