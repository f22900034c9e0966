package supervisor

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/health"

	"github.com/ringrift/ringsup/procexec"
)

// Prober runs the network health probes. The health package's Prober
// implements it.
type Prober interface {
	// HTTP GETs url; nil means a 2xx answer within timeout.
	HTTP(ctx context.Context, url string, timeout time.Duration) error
	// StartTCP connects to addr; nil means connected within timeout. When
	// the outcome is not known at once, finish waits for it.
	StartTCP(ctx context.Context, addr string, timeout time.Duration) (finish func() error, err error)
}

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

// checker is the loop's record of one daemon's health checks, for its
// current process. Only the loop touches it.
type checker struct {
	// incarnation counts the daemon's processes; a probe result for an
	// earlier one is stale and dropped.
	incarnation uint64
	status      string
	lastErr     string
	failures    int // consecutive failures that count
	ready       bool
	spawnedAt   time.Time
	next        time.Time // when the next probe is due; zero: none
	inFlight    bool
	execPID     int       // the exec probe's process, while it runs
	execKillAt  time.Time // when the exec probe times out
	// Readiness notification (ready.go).
	pipe       *health.ReadyPipe // ready = "fd:N": the process's pipe
	watchdogAt time.Time         // when a missed WATCHDOG=1 makes it unhealthy
	statusText string            // the latest STATUS= it sent
}

// networkProbe is a network probe to run, for a daemon's incarnation.
type networkProbe struct {
	name        string
	incarnation uint64
	url, addr   string
	timeout     time.Duration
}

// probeResult is a network probe's outcome, sent back to the loop.
type probeResult struct {
	name        string
	incarnation uint64
	err         error
}

// probeExit records an exec probe's process until it is reaped.
type probeExit struct {
	d           *daemon
	incarnation uint64
	timedOut    bool
}

// healthStarted resets d's checks for its new process.
func (s *Supervisor) healthStarted(d *daemon, now time.Time) {
	h := &d.health
	h.incarnation++
	h.failures, h.ready, h.inFlight, h.execPID, h.lastErr = 0, false, false, 0, ""
	h.spawnedAt, h.next, h.execKillAt, h.watchdogAt = now, time.Time{}, time.Time{}, time.Time{}
	h.status, h.statusText = healthNone, ""
	if hasHealth(d) {
		h.status = healthUnknown
	}
	if hc := d.cfg.Health; hc != nil {
		h.next = probeTime(now, min(readyCadence, hc.Interval))
	}
}

// hasHealth reports whether d's health is watched: by a probe, or by a
// notification watchdog.
func hasHealth(d *daemon) bool { return d.cfg.Health != nil || d.cfg.Watchdog > 0 }

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

// healthStopped ends d's checks: its process is gone or going.
func (s *Supervisor) healthStopped(d *daemon) {
	h := &d.health
	h.incarnation++
	h.next, h.inFlight, h.execKillAt, h.watchdogAt = time.Time{}, false, time.Time{}, time.Time{}
	if h.execPID != 0 {
		s.killProbe(d)
	}
	if h.pipe != nil {
		h.pipe.Close()
		h.pipe = nil
	}
}

// runProbe starts d's probe: an exec probe as a child process reaped by the
// loop like any other; a network probe is queued for startNetworkProbes.
func (s *Supervisor) runProbe(d *daemon, now time.Time) {
	hc, h := d.cfg.Health, &d.health
	h.next, h.inFlight = time.Time{}, true
	if len(hc.Exec) == 0 {
		s.dueProbes = append(s.dueProbes, networkProbe{
			name: d.name, incarnation: h.incarnation,
			url: hc.HTTP, addr: hc.TCP, timeout: hc.Timeout,
		})
		return
	}
	pid, err := s.rt.Spawn(procexec.Spec{
		Name: d.name,
		Argv: hc.Exec,
		Dir:  d.cfg.WorkingDir,
		Env:  d.cfg.Env,
		User: d.cfg.User,
	})
	if err != nil {
		s.probeDone(d, h.incarnation, fmt.Errorf("cannot run probe: %w", err), now)
		return
	}
	h.execPID, h.execKillAt = pid, now.Add(hc.Timeout)
	s.probes[pid] = &probeExit{d: d, incarnation: h.incarnation}
}

// startNetworkProbes runs the network probes that fell due, off the loop,
// on one goroutine: the tcp probes whose outcome is known at once (the
// usual case over loopback) come back together in one message, so that a
// thousand probes a second wake the loop once per batch rather than once
// per probe. Each http probe, and each tcp probe still connecting, finishes
// on a goroutine of its own and reports alone.
func (s *Supervisor) startNetworkProbes() {
	if len(s.dueProbes) == 0 {
		return
	}
	due, prober, results, done := s.dueProbes, s.opts.Prober, s.probeResults, s.done
	s.dueProbes = nil
	report := func(rs []probeResult) {
		select {
		case results <- rs:
		case <-done:
		}
	}
	go func() {
		var now []probeResult
		for _, p := range due {
			result := probeResult{name: p.name, incarnation: p.incarnation}
			if p.url != "" {
				go func() {
					result.err = prober.HTTP(context.Background(), p.url, p.timeout)
					report([]probeResult{result})
				}()
				continue
			}
			finish, err := prober.StartTCP(context.Background(), p.addr, p.timeout)
			if finish == nil {
				result.err = err
				now = append(now, result)
				continue
			}
			go func() {
				result.err = finish()
				report([]probeResult{result})
			}()
		}
		if len(now) > 0 {
			report(now)
		}
	}()
}

// killProbe kills d's running exec probe's group; its exit is still reaped.
func (s *Supervisor) killProbe(d *daemon) {
	h := &d.health
	if p := s.probes[h.execPID]; p != nil {
		p.timedOut = true
	}
	if err := s.rt.Signal(h.execPID, syscall.SIGKILL); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
		s.log.Error("cannot kill probe", "daemon", d.name, "pid", h.execPID, "error", err)
	}
	h.execPID, h.execKillAt = 0, time.Time{}
}

// probeExited handles the exit of an exec probe process; it reports whether
// pid was one.
func (s *Supervisor) probeExited(x procexec.Exit) bool {
	p, ok := s.probes[x.PID]
	if !ok {
		return false
	}
	delete(s.probes, x.PID)
	// What is left of the probe's group goes with it.
	_ = s.rt.Signal(x.PID, syscall.SIGKILL)
	if p.timedOut || s.daemons[p.d.name] != p.d {
		return true
	}
	p.d.health.execPID, p.d.health.execKillAt = 0, time.Time{}
	var err error
	if !x.Success() {
		err = fmt.Errorf("probe %s", x)
	}
	s.probeDone(p.d, p.incarnation, err, time.Now())
	return true
}

// probeTimedOut kills an exec probe that ran past its timeout and counts a
// failure.
func (s *Supervisor) probeTimedOut(d *daemon, now time.Time) {
	s.killProbe(d)
	s.probeDone(d, d.health.incarnation, fmt.Errorf("probe timed out after %v", d.cfg.Health.Timeout), now)
}

// drainProbeResults takes the results that are ready without waiting, so
// that a batch of probes costs one pass of the loop.
func (s *Supervisor) drainProbeResults() {
	for {
		select {
		case rs := <-s.probeResults:
			s.networkProbesDone(rs)
		default:
			return
		}
	}
}

// networkProbesDone takes network probes' results.
func (s *Supervisor) networkProbesDone(rs []probeResult) {
	now := time.Now()
	for _, r := range rs {
		if d, ok := s.daemons[r.name]; ok {
			s.probeDone(d, r.incarnation, r.err, now)
		}
	}
}

// probeDone counts one probe's outcome for d and acts on it: the first pass
// makes a daemon without another readiness source ready; retries failures
// in a row (outside start_period) make it unhealthy, which restarts it when
// on_unhealthy is "restart" and always when it has never been ready.
func (s *Supervisor) probeDone(d *daemon, incarnation uint64, err error, now time.Time) {
	h, hc := &d.health, d.cfg.Health
	if incarnation != h.incarnation || hc == nil || d.rec.PID == 0 {
		return // a stale result: the process it probed is gone
	}
	h.inFlight = false
	if h.ready {
		h.next = probeTime(now, hc.Interval)
	} else {
		h.next = probeTime(now, min(readyCadence, hc.Interval))
	}
	if err == nil {
		h.failures, h.lastErr = 0, ""
		// A daemon gated on its check is started (DAEMON_STARTED) before
		// it is reported healthy.
		if !h.ready && d.cfg.Ready == "" {
			s.markReady(d)
		}
		s.setHealth(d, healthHealthy, "")
		return
	}
	h.lastErr = err.Error()
	if now.Before(h.spawnedAt.Add(hc.StartPeriod)) {
		return // failures in the start period do not count
	}
	h.failures++
	if h.failures < hc.Retries {
		return
	}
	s.setHealth(d, healthUnhealthy, h.lastErr)
	if !h.ready || hc.OnUnhealthy == "restart" {
		s.unhealthy(d, fmt.Errorf("unhealthy: %d failed probes, last: %s", h.failures, h.lastErr))
	}
}

// markReady makes a starting daemon running.
func (s *Supervisor) markReady(d *daemon) {
	d.health.ready = true
	if d.cfg.Health != nil && !d.health.next.IsZero() {
		d.health.next = probeTime(time.Now(), d.cfg.Health.Interval)
	}
	s.apply(d, input{kind: inReady})
}

// unhealthy treats d's live process as crashed.
func (s *Supervisor) unhealthy(d *daemon, err error) {
	s.healthStopped(d)
	s.apply(d, input{kind: inUnhealthy, err: err})
}

// setHealth records d's health and publishes a change to healthy or
// unhealthy.
func (s *Supervisor) setHealth(d *daemon, status, errText string) {
	if d.health.status == status {
		return
	}
	d.health.status = status
	switch status {
	case healthHealthy:
		s.publishFor(d, Event{Type: DaemonHealthy})
	case healthUnhealthy:
		s.publishFor(d, Event{Type: DaemonUnhealthy, Error: errText})
	}
}

// healthDeadline returns d's earliest health deadline, or zero.
func (h *checker) deadline() time.Time {
	var first time.Time
	for _, t := range []time.Time{h.execKillAt, h.next, h.watchdogAt} {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// fireHealth runs the health deadlines of d that have passed.
func (s *Supervisor) fireHealth(d *daemon, now time.Time) {
	h := &d.health
	if !h.execKillAt.IsZero() && !now.Before(h.execKillAt) {
		s.probeTimedOut(d, now)
	}
	if !h.next.IsZero() && !now.Before(h.next) && !h.inFlight && d.rec.PID != 0 {
		s.runProbe(d, now)
	}
	if !h.watchdogAt.IsZero() && !now.Before(h.watchdogAt) && d.rec.PID != 0 {
		s.watchdogMissed(d)
	}
}

// healthStatus returns what `ctl status` shows for d's health.
func healthStatus(d *daemon) (status, errText string) {
	if !hasHealth(d) {
		return healthNone, ""
	}
	if d.rec.PID == 0 {
		return healthUnknown, d.health.lastErr
	}
	return d.health.status, d.health.lastErr
}
