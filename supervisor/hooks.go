package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

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

// hookRun is one run of a hook for one event.
type hookRun struct {
	hook  config.Hook
	event Event
}

// runningHook is a hook's process until it is reaped.
type runningHook struct {
	run    hookRun
	killAt time.Time // zero once killed
}

// queueHooks queues a run of every hook that listens for e.
func (s *Supervisor) queueHooks(e Event) {
	for _, h := range s.cfg.Hooks {
		if !hookMatches(h, e) {
			continue
		}
		if h.Action != "" {
			s.hookActions = append(s.hookActions, hookAction{hook: h, event: e})
			continue
		}
		if len(s.hookQueue) >= maxHooksQueued {
			s.log.Warn("too many hooks waiting; dropping one", "event", string(e.Type), "command", h.Command[0])
			continue
		}
		s.hookQueue = append(s.hookQueue, hookRun{hook: h, event: e})
	}
	s.startHooks(time.Now())
}

// startHooks starts queued hooks while fewer than maxHooksRunning run.
// A hook gets the event's JSON on its standard input, RINGSUP_EVENT and
// RINGSUP_DAEMON in its environment, and its output goes to hooks.log.
func (s *Supervisor) startHooks(now time.Time) {
	for len(s.hookQueue) > 0 && len(s.hooks) < maxHooksRunning {
		run := s.hookQueue[0]
		s.hookQueue = s.hookQueue[1:]
		if err := s.startHook(run, now); err != nil {
			s.hookFailed(run.hook, run.event, fmt.Sprintf("cannot run hook: %v", err))
		}
	}
}

func (s *Supervisor) startHook(run hookRun, now time.Time) error {
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
	if s.hookLog == nil {
		opts := logfile.Options{MaxSize: s.cfg.Supervisor.LogMaxSize, MaxFiles: s.cfg.Supervisor.LogMaxFiles}
		s.hookLog = s.newLog("hooks.log", "hooks", opts, func(err error) {
			s.log.Error("hook output is being lost", "error", err)
		})
	}
	pid, err := s.rt.Spawn(procexec.Spec{
		Name:   run.event.Daemon,
		Argv:   run.hook.Command,
		Dir:    s.cfg.Dir,
		Env:    map[string]string{"RINGSUP_EVENT": string(run.event.Type), SocketEnv: s.cfg.Supervisor.Socket},
		Stdin:  r,
		Output: s.hookLog,
	})
	if err != nil {
		return err
	}
	s.hooks[pid] = &runningHook{run: run, killAt: now.Add(run.hook.Timeout)}
	return nil
}

// hookExited handles the exit of a hook's process; it reports whether pid
// was one.
func (s *Supervisor) hookExited(x procexec.Exit) bool {
	h, ok := s.hooks[x.PID]
	if !ok {
		return false
	}
	delete(s.hooks, x.PID)
	_ = s.rt.Signal(x.PID, syscall.SIGKILL) // what is left of its group
	switch {
	case h.killAt.IsZero():
		s.hookFailed(h.run.hook, h.run.event, fmt.Sprintf("timed out after %v and was killed", h.run.hook.Timeout))
	case !x.Success():
		s.hookFailed(h.run.hook, h.run.event, x.String())
	}
	s.startHooks(time.Now())
	return true
}

// hooksDeadline returns when the first running hook times out, or zero.
func (s *Supervisor) hooksDeadline() time.Time {
	var first time.Time
	for _, h := range s.hooks {
		if !h.killAt.IsZero() && (first.IsZero() || h.killAt.Before(first)) {
			first = h.killAt
		}
	}
	return first
}

// killLateHooks kills the process groups of hooks past their timeout.
func (s *Supervisor) killLateHooks(now time.Time) {
	for pid, h := range s.hooks {
		if h.killAt.IsZero() || now.Before(h.killAt) {
			continue
		}
		h.killAt = time.Time{}
		if err := s.rt.Signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
			s.log.Error("cannot kill hook", "pid", pid, "error", err)
		}
	}
}
