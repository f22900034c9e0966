package metrics

import (
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringrift/ringsup/supervisor"
)

// healthValues returns the values of DaemonStatus.Health (SPEC.md), the
// label values of ringsup_daemon_health.
func healthValues() []string { return []string{"none", "unknown", "healthy", "unhealthy"} }

// statusCollector reports the supervisor's Status at each scrape, and the
// restarts counted from its events.
type statusCollector struct {
	sup *supervisor.Supervisor

	info, state, up, restarts, restartCount, backoff, health, lastExit, uptime *prometheus.Desc

	mu sync.Mutex
	// nrestarts counts DAEMON_RESTARTING events by daemon.
	nrestarts map[string]float64
}

func newStatusCollector(sup *supervisor.Supervisor) *statusCollector {
	// instance is the number of an instance NAME@n, whose daemon label
	// is NAME; "" (no label, to Prometheus) for a daemon without instances.
	daemon := []string{"daemon", "instance"}
	return &statusCollector{
		sup: sup,
		info: prometheus.NewDesc("ringsup_info",
			"The supervisor's active profile and absolute config path; always 1.",
			[]string{"profile", "config"}, nil),
		state: prometheus.NewDesc("ringsup_daemon_state",
			"1 for the daemon's current state, 0 for the six others.",
			[]string{"daemon", "instance", "state"}, nil),
		up: prometheus.NewDesc("ringsup_daemon_up",
			"1 when the daemon is running, else 0.",
			daemon, nil),
		restarts: prometheus.NewDesc("ringsup_daemon_restarts_total",
			"Automatic restarts after an unexpected exit (DAEMON_RESTARTING events).",
			daemon, nil),
		restartCount: prometheus.NewDesc("ringsup_daemon_restart_count",
			"The daemon's restart_count: restarts since it was last stable or forced, compared with max_restarts.",
			daemon, nil),
		backoff: prometheus.NewDesc("ringsup_daemon_backoff_seconds",
			"While restarting, the seconds left before the restart; else 0.",
			daemon, nil),
		health: prometheus.NewDesc("ringsup_daemon_health",
			"1 for the daemon's current health, 0 for the others.",
			[]string{"daemon", "instance", "health"}, nil),
		lastExit: prometheus.NewDesc("ringsup_daemon_last_exit_code",
			"The exit code of the daemon's last process, -1 when a signal ended it; absent before its first exit.",
			daemon, nil),
		uptime: prometheus.NewDesc("ringsup_daemon_uptime_seconds",
			"Seconds since the daemon became running; 0 when it is not running.",
			daemon, nil),
		nrestarts: make(map[string]float64),
	}
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

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.state, c.up, c.restarts, c.restartCount, c.backoff, c.health, c.lastExit, c.uptime} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It waits for the supervisor's
// loop to answer Status; when the supervisor is not running, it reports the
// error and no metric.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.sup.Status()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.info, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	oneHot := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge(c.info, 1, st.Profile, st.Config)
	c.mu.Lock()
	restarts := make(map[string]float64, len(c.nrestarts))
	for name, n := range c.nrestarts {
		restarts[name] = n
	}
	c.mu.Unlock()
	for name, d := range st.Daemons {
		inst := ""
		if d.Instance != nil {
			inst = strconv.Itoa(*d.Instance)
		}
		id := []string{d.Daemon, inst}
		for _, s := range supervisor.States() {
			gauge(c.state, oneHot(d.State == s), id[0], id[1], s.String())
		}
		gauge(c.up, oneHot(d.State == supervisor.Running), id...)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, restarts[name], id...)
		gauge(c.restartCount, float64(d.RestartCount), id...)
		gauge(c.backoff, d.BackoffS, id...)
		hv := healthValues()
		if !slices.Contains(hv, d.Health) {
			hv = append(hv, d.Health) // keep it one-hot if a value is added
		}
		for _, h := range hv {
			gauge(c.health, oneHot(d.Health == h), id[0], id[1], h)
		}
		if x := d.LastExit; x != nil {
			code := x.Code
			if x.Signal != "" {
				code = -1
			}
			gauge(c.lastExit, float64(code), id...)
		}
		gauge(c.uptime, d.UptimeS, id...)
	}
}
