package supervisor

import (
	"fmt"
	"time"

	"github.com/ringrift/ringsup/config"
)

// This file holds a daemon's health and readiness checks as one pure
// function, healthStep, beside step. It decides when a probe is due, what
// its outcome means, when a readiness notification makes the daemon ready
// and when a missed watchdog makes it unhealthy. It runs nothing: the loop
// feeds it inputs and maps its verdict to probes to run (probes.go), events
// to publish, and inReady or inUnhealthy to feed to step.

// Health values shown by `ctl status`.
const (
	healthNone      = "none"
	healthUnknown   = "unknown"
	healthHealthy   = "healthy"
	healthUnhealthy = "unhealthy"
)

// readyCadence is how often a daemon that is not ready yet is probed (or
// its interval, if shorter).
const readyCadence = time.Second

// healthCheck is what a daemon's config asks to be checked.
type healthCheck struct {
	// Probe is the health probe; nil: none.
	Probe *config.Health
	// Notified: readiness comes from the daemon's notification (ready =
	// "notify" or "fd:N"), not from the probe's first pass.
	Notified bool
	// Watchdog: a notifying daemon that sends no WATCHDOG=1 for this long
	// is unhealthy; zero: no watchdog.
	Watchdog time.Duration
}

func healthCheckOf(d *config.Daemon) healthCheck {
	return healthCheck{Probe: d.Health, Notified: d.Ready != "", Watchdog: d.Watchdog}
}

// watched reports whether the daemon's health is watched: by a probe, or by
// a notification watchdog.
func (c healthCheck) watched() bool { return c.Probe != nil || c.Watchdog > 0 }

// healthState is a daemon's health for its current process.
type healthState struct {
	// Incarnation names the process checked: an outcome for another one
	// is stale and dropped. The loop numbers every process it spawns.
	Incarnation uint64
	// Live: the process is up and checked; false once it is gone or
	// going.
	Live       bool
	Status     string // healthNone, healthUnknown, healthHealthy, healthUnhealthy
	LastErr    string
	Failures   int // consecutive failures that count
	Ready      bool
	SpawnedAt  time.Time
	Next       time.Time // when the next probe is due; zero: none
	InFlight   bool      // a probe runs
	KillProbe  time.Time // when the running exec probe times out; zero: none
	WatchdogAt time.Time // when a missed WATCHDOG=1 makes it unhealthy
	StatusText string    // the latest STATUS= it sent
}

// healthInputKind is what happened to a daemon's health checks.
type healthInputKind int

const (
	// hSpawned: its process (input.incarnation) was spawned.
	hSpawned healthInputKind = iota
	// hGone: its process is gone or going (step's actHealthStop).
	hGone
	// hDeadline: its health deadline passed.
	hDeadline
	// hProbeDone: a probe of input.incarnation ended with input.err.
	hProbeDone
	// hNotified: its process sent a notification (input.ready,
	// input.watchdog, input.status); the loop checked that it came from
	// the daemon's process group.
	hNotified
	// hPipeReady: the process of input.incarnation wrote its readiness
	// newline.
	hPipeReady
)

var healthInputNames = [...]string{
	hSpawned: "spawned", hGone: "gone", hDeadline: "deadline", hProbeDone: "probe_done",
	hNotified: "notified", hPipeReady: "pipe_ready",
}

func (k healthInputKind) String() string { return healthInputNames[k] }

func allHealthInputs() []healthInputKind {
	return []healthInputKind{hSpawned, hGone, hDeadline, hProbeDone, hNotified, hPipeReady}
}

type healthInput struct {
	kind        healthInputKind
	incarnation uint64
	err         error
	// What a notification said.
	ready, watchdog bool
	status          string
}

// verdict is what the loop must do after a healthStep.
type verdict struct {
	// Probe: start a probe of the current process now.
	Probe bool
	// DropProbe: kill the running exec probe, if any; its outcome no
	// longer counts.
	DropProbe bool
	// Event: publish DAEMON_HEALTHY or DAEMON_UNHEALTHY (with Error);
	// "" for none. It goes out before what Ready or Unhealthy cause.
	Event EventType
	Error string
	// Ready: feed inReady to step.
	Ready bool
	// Unhealthy, if not nil: feed inUnhealthy with it to step.
	Unhealthy error
}

// healthStep returns the daemon's next health state and the verdict when
// input in happens at time now. It is pure and total, like step: every
// input is decided in every state, most as "nothing to do".
func healthStep(h healthState, c healthCheck, in healthInput, now time.Time) (healthState, verdict) {
	var v verdict
	switch in.kind {
	case hSpawned:
		h = healthState{Incarnation: in.incarnation, Live: true, Status: healthNone, SpawnedAt: now}
		if c.watched() {
			h.Status = healthUnknown
		}
		if c.Probe != nil {
			h.Next = probeTime(now, min(readyCadence, c.Probe.Interval))
		}
	case hGone:
		v.DropProbe = h.InFlight
		h.Live, h.InFlight = false, false
		h.Next, h.KillProbe, h.WatchdogAt = time.Time{}, time.Time{}, time.Time{}
	case hDeadline:
		if !h.Live {
			break
		}
		if c.Probe == nil {
			h.Next, h.KillProbe = time.Time{}, time.Time{} // after a reload that removed it
		}
		if !h.KillProbe.IsZero() && !now.Before(h.KillProbe) {
			v.DropProbe = true
			h, v = probeDone(h, c, fmt.Errorf("probe timed out after %v", c.Probe.Timeout), now, v)
			if v.Unhealthy != nil {
				return h, v
			}
		}
		if !h.Next.IsZero() && !now.Before(h.Next) && !h.InFlight {
			v.Probe, h.Next, h.InFlight = true, time.Time{}, true
			if len(c.Probe.Exec) > 0 {
				h.KillProbe = now.Add(c.Probe.Timeout)
			}
		}
		if !h.WatchdogAt.IsZero() && !now.Before(h.WatchdogAt) {
			h.WatchdogAt = time.Time{}
			err := fmt.Errorf("watchdog: no WATCHDOG=1 for %v", c.Watchdog)
			h.LastErr = err.Error()
			h, v = setStatus(h, healthUnhealthy, v)
			if c.Probe == nil || c.Probe.OnUnhealthy == "restart" {
				v.Unhealthy = fmt.Errorf("unhealthy: %w", err)
			}
		}
	case hProbeDone:
		if in.incarnation == h.Incarnation && h.Live && c.Probe != nil {
			h, v = probeDone(h, c, in.err, now, v)
		}
	case hNotified:
		if !h.Live {
			break
		}
		if in.status != "" {
			h.StatusText = in.status
		}
		if (in.ready || in.watchdog) && c.Watchdog > 0 {
			h.WatchdogAt = now.Add(c.Watchdog)
		}
		if in.ready && !h.Ready {
			h, v = becomeReady(h, c, now, v)
		}
	case hPipeReady:
		if h.Live && in.incarnation == h.Incarnation && !h.Ready {
			h, v = becomeReady(h, c, now, v)
		}
	}
	return h, v
}

// probeDone counts one probe's outcome: the first pass makes a daemon
// without another readiness source ready; Retries failures in a row
// (outside start_period) make it unhealthy, which restarts it when
// on_unhealthy is "restart" and always when it has never been ready.
func probeDone(h healthState, c healthCheck, err error, now time.Time, v verdict) (healthState, verdict) {
	p := c.Probe
	h.InFlight, h.KillProbe = false, time.Time{}
	if h.Ready {
		h.Next = probeTime(now, p.Interval)
	} else {
		h.Next = probeTime(now, min(readyCadence, p.Interval))
	}
	if err == nil {
		h.Failures, h.LastErr = 0, ""
		h, v = setStatus(h, healthHealthy, v)
		if !h.Ready && !c.Notified {
			h, v = becomeReady(h, c, now, v)
		}
		return h, v
	}
	h.LastErr = err.Error()
	if now.Before(h.SpawnedAt.Add(p.StartPeriod)) {
		return h, v // failures in the start period do not count
	}
	h.Failures++
	if h.Failures < p.Retries {
		return h, v
	}
	h, v = setStatus(h, healthUnhealthy, v)
	if !h.Ready || p.OnUnhealthy == "restart" {
		v.Unhealthy = fmt.Errorf("unhealthy: %d failed probes, last: %s", h.Failures, h.LastErr)
	}
	return h, v
}

// becomeReady makes the process ready; from now on it is probed at its
// interval.
func becomeReady(h healthState, c healthCheck, now time.Time, v verdict) (healthState, verdict) {
	h.Ready, v.Ready = true, true
	if c.Probe != nil && !h.Next.IsZero() {
		h.Next = probeTime(now, c.Probe.Interval)
	}
	return h, v
}

// setStatus records the health status; a change to healthy or unhealthy
// is published.
func setStatus(h healthState, status string, v verdict) (healthState, verdict) {
	if h.Status == status {
		return h, v
	}
	h.Status = status
	switch status {
	case healthHealthy:
		v.Event = DaemonHealthy
	case healthUnhealthy:
		v.Event, v.Error = DaemonUnhealthy, h.LastErr
	}
	return h, v
}

// deadline returns the earliest of the health deadlines, or zero.
func (h healthState) deadline() time.Time {
	var first time.Time
	for _, t := range []time.Time{h.KillProbe, h.Next, h.WatchdogAt} {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// probeTime returns when to probe next, interval after now, rounded up to
// a multiple of a tenth of interval (at most 100ms): probes of many daemons
// then fall due together, and the loop wakes up once for a batch instead of
// once per probe.
func probeTime(now time.Time, interval time.Duration) time.Time {
	slack := min(interval/10, 100*time.Millisecond)
	t := now.Add(interval)
	if slack <= 0 {
		return t
	}
	if r := t.Truncate(slack); r.Before(t) {
		return r.Add(slack)
	}
	return t
}
