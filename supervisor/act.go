package supervisor

// This file carries out what the two pure steps decide: apply feeds an
// input to step (step.go) and do performs its actions; feedHealth feeds an
// input to healthStep (health.go) and performs its verdict. Both run on the
// loop only.

import (
	"errors"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// apply feeds one input to a daemon's state machine and carries out the
// actions it returns.
func (s *Supervisor) apply(d *daemon, in input) {
	now := time.Now()
	prev := d.rec
	in.jitter = s.opts.Rand.Float64()*2 - 1
	var acts []action
	d.rec, acts = step(d.rec, d.pol, in, now)
	s.life.unclean.noteExit(s.life.shuttingDown, d.name, prev, d.rec)
	if prev.State != d.rec.State && s.log.IsDebug() { // its arguments cost allocations
		s.log.Debug("state", "daemon", d.name, "from", prev.State, "to", d.rec.State, "input", in.kind)
	}
	for _, a := range acts {
		s.do(d, a, now)
	}
	s.unplace(d)
	s.touch(d)
}

// do carries out one action of step.
func (s *Supervisor) do(d *daemon, a action, now time.Time) {
	switch a.kind {
	case actSpawn:
		// schedule starts the processes of a pass together.
		s.spawns.queue = append(s.spawns.queue, d)
	case actSignal:
		if err := s.rt.Signal(d.rec.PID, a.sig); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
			s.log.Error("cannot signal daemon", "daemon", d.name, "signal", procexec.SignalName(a.sig), "error", err)
		}
	case actKillGroup:
		// The leader is gone; whatever is left of its group goes with it.
		s.groups.killGroup(d.name, a.pid)
	case actEmit:
		s.publishFor(d, s.withNode(a.event))
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
	case actFence:
		s.askFence(d)
	case actWithdraw:
		s.withdraw(d, a)
	case actGuardStart:
		s.startGuard(d, a.pid)
	case actGuardRelease:
		s.releaseGuard(d)
	}
}

// feedHealth feeds one input to d's health checks and carries out the
// verdict: a probe to drop or start (probes.go), an event, and inReady or
// inUnhealthy for step.
func (s *Supervisor) feedHealth(d *daemon, in healthInput, now time.Time) {
	var v verdict
	d.health, v = healthStep(d.health, healthCheckOf(d.cfg), in, now)
	s.touch(d)
	if v.DropProbe {
		s.probes.drop(d.health.Incarnation)
	}
	if v.Ready {
		// First: a daemon gated on its check is started (DAEMON_STARTED)
		// before it is reported healthy.
		s.apply(d, input{kind: inReady})
	}
	if v.Event != "" {
		s.publishFor(d, Event{Type: v.Event, Error: v.Error})
	}
	if v.Probe {
		if err := s.probes.start(d.name, d.health.Incarnation, d.cfg); err != nil {
			s.feedHealth(d, healthInput{kind: hProbeDone, incarnation: d.health.Incarnation, err: err}, now)
		}
	}
	if v.Unhealthy != nil {
		s.apply(d, input{kind: inUnhealthy, err: v.Unhealthy})
	}
}

// healthStarted starts checking d's new process (step's actHealthStart).
func (s *Supervisor) healthStarted(d *daemon, now time.Time) {
	s.spawns.incarnations++
	s.feedHealth(d, healthInput{kind: hSpawned, incarnation: s.spawns.incarnations}, now)
}

// healthStopped stops checking d's process, gone or going (step's
// actHealthStop).
func (s *Supervisor) healthStopped(d *daemon, now time.Time) {
	s.feedHealth(d, healthInput{kind: hGone}, now)
	if d.pipe != nil {
		d.pipe.Close()
		d.pipe = nil
	}
}

// askFence carries out actFence: a node whose labels do not match the
// daemon's placement_labels never asks, and its daemon waits, shown
// stopped; if it was a candidate (a reload changed placement_labels), it
// withdraws, and loses the singleton if it held it.
func (s *Supervisor) askFence(d *daemon) {
	if c := s.cfg.Cluster; c == nil || !d.cfg.Eligible(c.Labels) {
		s.place.ask(FenceRequest{Daemon: d.name})
		s.apply(d, input{kind: inFenceLost, why: LostIneligible})
		return
	}
	s.place.ask(FenceRequest{Daemon: d.name, Campaign: true, StopTimeout: d.cfg.StopTimeout, Ask: d.rec.Ask})
}
