package supervisor

import "time"

// This file is the loop's side of health checking: it feeds healthStep
// (health.go) and carries out its verdicts.

// feedHealth feeds one input to d's health checks and carries out the
// verdict: a probe to drop or start (probes.go), an event, and inReady or
// inUnhealthy for step.
func (s *Supervisor) feedHealth(d *daemon, in healthInput, now time.Time) {
	var v verdict
	d.health, v = healthStep(d.health, healthCheckOf(d.cfg), in, now)
	if v.DropProbe {
		s.probes.drop(d.health.Incarnation)
	}
	if v.Event != "" {
		s.publishFor(d, Event{Type: v.Event, Error: v.Error})
	}
	if v.Probe {
		if err := s.probes.start(d.name, d.health.Incarnation, d.cfg); err != nil {
			s.feedHealth(d, healthInput{kind: hProbeDone, incarnation: d.health.Incarnation, err: err}, now)
		}
	}
	if v.Ready {
		s.apply(d, input{kind: inReady})
	}
	if v.Unhealthy != nil {
		s.apply(d, input{kind: inUnhealthy, err: v.Unhealthy})
	}
}

// healthStarted starts checking d's new process (step's actHealthStart).
func (s *Supervisor) healthStarted(d *daemon, now time.Time) {
	s.incarnations++
	s.feedHealth(d, healthInput{kind: hSpawned, incarnation: s.incarnations}, now)
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
