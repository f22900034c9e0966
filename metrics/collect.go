package metrics

import (
	"slices"
	"sync"

	"github.com/ringrift/ringsup/supervisor"
)

// healthValues returns the values of DaemonStatus.Health (SPEC.md), the
// label values of ringsup_daemon_health.
func healthValues() []string { return []string{"none", "unknown", "healthy", "unhealthy"} }

// statusCollector reports the supervisor's Status at each scrape, and the
// restarts counted from its events.
type statusCollector struct {
	sup *supervisor.Supervisor

	mu sync.Mutex
	// nrestarts counts DAEMON_RESTARTING events by daemon.
	nrestarts map[string]float64
}

func newStatusCollector(sup *supervisor.Supervisor) *statusCollector {
	return &statusCollector{sup: sup, nrestarts: make(map[string]float64)}
}

// restarted counts a DAEMON_RESTARTING event of daemon.
func (c *statusCollector) restarted(daemon string) {
	c.mu.Lock()
	c.nrestarts[daemon]++
	c.mu.Unlock()
}

// forget drops the restarts counted for daemons that a reload removed.
func (c *statusCollector) forget(daemons []string) {
	c.mu.Lock()
	for _, d := range daemons {
		delete(c.nrestarts, d)
	}
	c.mu.Unlock()
}

// collect returns the families read from the supervisor's Status. It waits
// for the supervisor's loop to answer; when the supervisor is not running,
// it returns the error and no family.
func (c *statusCollector) collect() ([]*family, error) {
	st, err := c.sup.Status()
	if err != nil {
		return nil, err
	}
	info := &family{name: "ringsup_info", typ: gauge,
		help: "The supervisor's active profile and absolute config path; always 1."}
	state := &family{name: "ringsup_daemon_state", typ: gauge,
		help: "1 for the daemon's current state, 0 for the six others."}
	up := &family{name: "ringsup_daemon_up", typ: gauge,
		help: "1 when the daemon is running, else 0."}
	restarts := &family{name: "ringsup_daemon_restarts_total", typ: counter,
		help: "Automatic restarts after an unexpected exit (DAEMON_RESTARTING events)."}
	restartCount := &family{name: "ringsup_daemon_restart_count", typ: gauge,
		help: "The daemon's restart_count: restarts since it was last stable or forced, compared with max_restarts."}
	backoff := &family{name: "ringsup_daemon_backoff_seconds", typ: gauge,
		help: "While restarting, the seconds left before the restart; else 0."}
	health := &family{name: "ringsup_daemon_health", typ: gauge,
		help: "1 for the daemon's current health, 0 for the others."}
	lastExit := &family{name: "ringsup_daemon_last_exit_code", typ: gauge,
		help: "The exit code of the daemon's last process, -1 when a signal ended it; absent before its first exit."}
	uptime := &family{name: "ringsup_daemon_uptime_seconds", typ: gauge,
		help: "Seconds since the daemon became running; 0 when it is not running."}

	oneHot := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	info.add(1, "config", st.Config, "profile", st.Profile)
	c.mu.Lock()
	nrestarts := make(map[string]float64, len(c.nrestarts))
	for name, n := range c.nrestarts {
		nrestarts[name] = n
	}
	c.mu.Unlock()
	for name, d := range st.Daemons {
		for _, s := range supervisor.States() {
			state.add(oneHot(d.State == s), "daemon", name, "state", s.String())
		}
		up.add(oneHot(d.State == supervisor.Running), "daemon", name)
		restarts.add(nrestarts[name], "daemon", name)
		restartCount.add(float64(d.RestartCount), "daemon", name)
		backoff.add(d.BackoffS, "daemon", name)
		hv := healthValues()
		if !slices.Contains(hv, d.Health) {
			hv = append(hv, d.Health) // keep it one-hot if a value is added
		}
		for _, h := range hv {
			health.add(oneHot(d.Health == h), "daemon", name, "health", h)
		}
		if x := d.LastExit; x != nil {
			code := x.Code
			if x.Signal != "" {
				code = -1
			}
			lastExit.add(float64(code), "daemon", name)
		}
		uptime.add(d.UptimeS, "daemon", name)
	}
	return []*family{info, state, up, restarts, restartCount, backoff, health, lastExit, uptime}, nil
}
