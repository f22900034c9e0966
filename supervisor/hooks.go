package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/logfile"
	"github.com/ringrift/ringsup/procexec"
)

// Bounds on hooks: how many run at once, and how many may wait to run;
// beyond that new runs are dropped with a warning.
const (
	maxHooksRunning = 8
	maxHooksQueued  = 1024
)

// hookRunner runs the hooks of the events the loop publishes: at most
// maxHooksRunning at once, each killed after its timeout, the others
// waiting in order. A hook gets the event's JSON on its standard input,
// RINGSUP_EVENT, RINGSUP_DAEMON and RINGSUP_SOCKET in its environment, and
// its output goes to hooks.log. The hooks with a built-in action (start,
// stop, restart) are not run here: fire sets them aside, and the loop
// applies them (runHookActions). Only the loop calls its methods; a hook's
// exit is reaped by the loop and handed to exited.
type hookRunner struct {
	rt  Runtime
	log hclog.Logger
	// openLog makes the writer of hooks.log, at the first hook.
	openLog func() *logfile.Writer
	out     *logfile.Writer
	// socket is the control socket a hook is told about in SocketEnv.
	socket string
	// failed is told of a hook that could not run, failed or timed out,
	// with what happened. Default: it is logged.
	failed func(h config.Hook, e Event, msg string)
	// running holds the running hooks' processes until reaped; queue the
	// runs waiting for a slot.
	running map[int]*runningHook
	queue   []hookRun
	// actions are the built-in actions of the hooks fired since the loop
	// last took them (takeActions).
	actions []hookAction
}

// hookRun is one run of a hook for one event, in directory dir.
type hookRun struct {
	hook  config.Hook
	event Event
	dir   string
}

// runningHook is a hook's process until it is reaped.
type runningHook struct {
	run    hookRun
	killAt time.Time // zero once killed
}

func newHookRunner(rt Runtime, log hclog.Logger, openLog func() *logfile.Writer) *hookRunner {
	return &hookRunner{rt: rt, log: log, openLog: openLog, running: make(map[int]*runningHook)}
}

// fire queues a run of every hook of hooks that fires for e, to run in
// dir, and starts what it can; it sets aside the actions of the hooks
// that have one, for takeActions.
func (hr *hookRunner) fire(hooks []config.Hook, dir string, e Event, now time.Time) {
	for _, h := range hooks {
		if !hookMatches(h, e) {
			continue
		}
		if h.Action != "" {
			hr.actions = append(hr.actions, hookAction{hook: h, event: e})
			continue
		}
		if len(hr.queue) >= maxHooksQueued {
			hr.log.Warn("too many hooks waiting; dropping one", "event", string(e.Type), "command", h.Command[0])
			continue
		}
		hr.queue = append(hr.queue, hookRun{hook: h, event: e, dir: dir})
	}
	hr.startQueued(now)
}

// startQueued starts queued hooks while fewer than maxHooksRunning run.
func (hr *hookRunner) startQueued(now time.Time) {
	for len(hr.queue) > 0 && len(hr.running) < maxHooksRunning {
		run := hr.queue[0]
		hr.queue = hr.queue[1:]
		if err := hr.start(run, now); err != nil {
			hr.fail(run, fmt.Sprintf("cannot run hook: %v", err))
		}
	}
}

// fail reports a run of a hook that failed.
func (hr *hookRunner) fail(run hookRun, msg string) {
	if hr.failed == nil {
		hr.log.Error("hook failed", "event", string(run.event.Type), "hook", hookName(run.hook), "error", msg)
		return
	}
	hr.failed(run.hook, run.event, msg)
}

// takeActions returns the actions set aside by fire since the last call.
func (hr *hookRunner) takeActions() []hookAction {
	acts := hr.actions
	hr.actions = nil
	return acts
}

func (hr *hookRunner) start(run hookRun, now time.Time) error {
	data, err := json.Marshal(run.event)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	// The loop never waits for a hook, not even to write its input.
	go func() {
		w.Write(append(data, '\n'))
		w.Close()
	}()
	if hr.out == nil {
		hr.out = hr.openLog()
	}
	pid, err := hr.rt.Spawn(procexec.Spec{
		Name:   run.event.Daemon,
		Argv:   run.hook.Command,
		Dir:    run.dir,
		Env:    map[string]string{"RINGSUP_EVENT": string(run.event.Type), SocketEnv: hr.socket},
		Stdin:  r,
		Output: hr.out,
	})
	if err != nil {
		return err
	}
	hr.running[pid] = &runningHook{run: run, killAt: now.Add(run.hook.Timeout)}
	return nil
}

// owns reports whether pid is a running hook's.
func (hr *hookRunner) owns(pid int) bool {
	_, ok := hr.running[pid]
	return ok
}

// exited handles the exit of a hook's process; it reports whether x was
// one.
func (hr *hookRunner) exited(x procexec.Exit) bool {
	h, ok := hr.running[x.PID]
	if !ok {
		return false
	}
	delete(hr.running, x.PID)
	_ = hr.rt.Signal(x.PID, syscall.SIGKILL) // what is left of its group
	switch {
	case h.killAt.IsZero():
		hr.fail(h.run, fmt.Sprintf("timed out after %v and was killed", h.run.hook.Timeout))
	case !x.Success():
		hr.fail(h.run, x.String())
	}
	hr.startQueued(time.Now())
	return true
}

// deadline returns when the first running hook times out, or zero.
func (hr *hookRunner) deadline() time.Time {
	var first time.Time
	for _, h := range hr.running {
		if !h.killAt.IsZero() && (first.IsZero() || h.killAt.Before(first)) {
			first = h.killAt
		}
	}
	return first
}

// killLate kills the process groups of hooks past their timeout.
func (hr *hookRunner) killLate(now time.Time) {
	for pid, h := range hr.running {
		if h.killAt.IsZero() || now.Before(h.killAt) {
			continue
		}
		h.killAt = time.Time{}
		if err := hr.rt.Signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
			hr.log.Error("cannot kill hook", "pid", pid, "error", err)
		}
	}
}

// killAll drops the waiting runs and actions and kills every running
// hook's group.
func (hr *hookRunner) killAll() {
	hr.queue, hr.actions = nil, nil
	for pid, h := range hr.running {
		h.killAt = time.Time{}
		_ = hr.rt.Signal(pid, syscall.SIGKILL)
	}
}

// idle reports whether no hook runs or waits.
func (hr *hookRunner) idle() bool { return len(hr.running) == 0 && len(hr.queue) == 0 }
