package supervisor

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func (f *fakeRuntime) setProbe(name string, code int, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probeCode[name], f.probeHang[name] = code, hang
}

const gated = `
[daemons.db]
command = "db"
[daemons.db.health]
exec = ["probe"]
interval = "10s"
retries = 5
start_period = "1m"
[daemons.app]
command = "app"
depends_on = ["db"]
`

func TestDependentWaitsForReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, gated, "", func(f *fakeRuntime) { f.probeCode["db"] = 1 })
		defer h.stop()
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn db"}) {
			t.Fatalf("at start: %q, want only db spawned", got)
		}
		// Not ready: probed every second, app waits.
		sleep(5 * time.Second)
		st := h.status("db")
		if st.State != Starting || st.PID == 0 || st.Health != "unknown" || !strings.Contains(st.HealthError, "exit status 1") {
			t.Fatalf("db before ready = %+v, want starting with a pid, health unknown, the probe's error", st)
		}
		h.wantState("app", Starting)
		if got := h.rt.takeLog(); len(got) != 0 {
			t.Fatalf("while db is not ready: %q", got)
		}
		h.drain()
		h.rt.setProbe("db", 0, false)
		sleep(time.Second)
		h.wantState("db", Running)
		// DAEMON_HEALTHY used to come before DAEMON_STARTED.
		if got, want := eventTypes(h.drain()), []string{"DAEMON_STARTED db", "DAEMON_HEALTHY db", "DAEMON_STARTED app"}; !slices.Equal(got, want) {
			t.Fatalf("events when db is ready = %q, want %q", got, want)
		}
		if st := h.status("db"); st.Health != "healthy" || st.HealthError != "" {
			t.Fatalf("db after a passing probe: %+v", st)
		}
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn app"}) {
			t.Fatalf("after db ready: %q, want app spawned", got)
		}
	})
}

func TestNeverReadyIsRestartedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.db]
command = "db"
backoff_min = "2s"
[daemons.db.health]
exec = ["probe"]
retries = 3
`, "", func(f *fakeRuntime) { f.probeCode["db"] = 1 })
		defer h.stop()
		h.drain()
		sleep(3 * time.Second) // three failed probes, a second apart
		st := h.status("db")
		if st.State != Restarting || st.RestartCount != 1 || !strings.Contains(st.LastError, "unhealthy") {
			t.Fatalf("after 3 failed readiness probes: %+v, want restarting, count 1, unhealthy", st)
		}
		types := eventTypes(h.drain())
		want := []string{"DAEMON_UNHEALTHY db", "DAEMON_EXITED db", "DAEMON_RESTARTING db"}
		if !slices.Equal(types, want) {
			t.Fatalf("events = %q, want %q", types, want)
		}
		if log := h.rt.takeLog(); !slices.Contains(log, "SIGTERM db") {
			t.Fatalf("unready daemon was not stopped: %q", log)
		}
		sleep(2 * time.Second)
		if log := h.rt.takeLog(); !slices.Equal(log, []string{"spawn db"}) {
			t.Fatalf("after the 2s backoff: %q, want a new spawn", log)
		}
	})
}

const live = `
[daemons.web]
command = "web"
[daemons.web.health]
http = "http://127.0.0.1:1/health"
interval = "5s"
retries = 2
on_unhealthy = "%s"
[daemons.client]
command = "client"
depends_on = ["web"]
`

func TestUnhealthyRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, strings.Replace(live, "%s", "restart", 1), "")
		defer h.stop()
		sleep(time.Second)
		h.wantState("web", Running)
		h.wantState("client", Running)
		h.rt.takeLog()
		h.drain()
		h.prober.set("http://127.0.0.1:1/health", errors.New("status 503"))
		sleep(10 * time.Second) // two failed probes, 5s apart
		st := h.status("web")
		if st.State != Restarting || st.RestartCount != 1 {
			t.Fatalf("after 2 failed probes: %+v, want restarting with count 1", st)
		}
		// The cascade takes client down, dependents first.
		if log := h.rt.takeLog(); !slices.Equal(log, []string{"SIGTERM client", "SIGTERM web"}) {
			t.Fatalf("unhealthy restart did %q", log)
		}
		if ev := h.drain(); ev[0].Type != DaemonUnhealthy || !strings.Contains(ev[0].Error, "status 503") {
			t.Fatalf("first event %+v, want DAEMON_UNHEALTHY with the probe error", ev[0])
		}
		h.prober.set("http://127.0.0.1:1/health", nil)
		sleep(2 * time.Second)
		h.wantState("web", Running)
		h.wantState("client", Running)
	})
}

func TestUnhealthyIgnoreAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, strings.Replace(live, "%s", "ignore", 1), "")
		defer h.stop()
		sleep(time.Second)
		pid := h.status("web").PID
		h.drain()
		h.prober.set("http://127.0.0.1:1/health", errors.New("status 500"))
		sleep(10 * time.Second)
		st := h.status("web")
		if st.State != Running || st.PID != pid || st.Health != "unhealthy" || st.HealthError == "" {
			t.Fatalf("ignored unhealthy: %+v, want running, same pid, unhealthy with an error", st)
		}
		h.prober.set("http://127.0.0.1:1/health", nil)
		sleep(5 * time.Second)
		if st := h.status("web"); st.Health != "healthy" {
			t.Fatalf("after recovery health = %q", st.Health)
		}
		if got := eventTypes(h.drain()); !slices.Equal(got, []string{"DAEMON_UNHEALTHY web", "DAEMON_HEALTHY web"}) {
			t.Fatalf("events = %q", got)
		}
	})
}

func TestExecProbeTimeoutKillsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.db]
command = "db"
[daemons.db.health]
exec = ["probe"]
timeout = "2s"
retries = 1
on_unhealthy = "ignore"
`, "", func(f *fakeRuntime) { f.probeHang["db"] = true })
		defer h.stop()
		sleep(time.Second) // the first probe starts and hangs
		sleep(2 * time.Second)
		if log := h.rt.takeLog(); !slices.Contains(log, "SIGKILL probe:db") {
			t.Fatalf("hung probe not killed: %q", log)
		}
		// Never ready: a daemon that never passed counts it as a crash.
		st := h.status("db")
		if st.State != Restarting || !strings.Contains(st.LastError, "timed out after 2s") {
			t.Fatalf("after a probe timeout: %+v", st)
		}
	})
}

func TestStartPeriodFailuresDoNotCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.db]
command = "db"
[daemons.db.health]
exec = ["probe"]
retries = 2
start_period = "30s"
`, "", func(f *fakeRuntime) { f.probeCode["db"] = 1 })
		defer h.stop()
		sleep(29 * time.Second)
		h.wantState("db", Starting)
		sleep(2 * time.Second) // two failures after the start period
		h.wantState("db", Restarting)
	})
}

func TestProbeTimeBatches(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		now      time.Duration
		interval time.Duration
		want     time.Duration
	}{
		{0, time.Second, time.Second},
		{1 * time.Millisecond, time.Second, 1100 * time.Millisecond},
		{99 * time.Millisecond, time.Second, 1100 * time.Millisecond},
		{250 * time.Millisecond, 30 * time.Second, 30300 * time.Millisecond},
		{3 * time.Millisecond, 100 * time.Millisecond, 110 * time.Millisecond},
	} {
		got := probeTime(base.Add(tt.now), tt.interval).Sub(base)
		if got != tt.want {
			t.Errorf("probeTime(+%v, %v) = +%v, want +%v", tt.now, tt.interval, got, tt.want)
		}
	}
}

// TestTCPProbesNowAndLater: a tcp probe whose connect is over at once and
// one that takes a while (a remote host) both make their daemon ready, each
// when its own outcome is known; the slow one delays nobody else.
func TestTCPProbesNowAndLater(t *testing.T) {
	const cfg = `
[daemons.near]
command = "near"
[daemons.near.health]
tcp = "127.0.0.1:1"
[daemons.far]
command = "far"
[daemons.far.health]
tcp = "192.0.2.1:1"
[daemons.nearapp]
command = "nearapp"
depends_on = ["near"]
`
	synctest.Test(t, func(t *testing.T) {
		h := startOpts(t, cfg, "", func(o *Options) {
			o.Prober.(*fakeProber).slow = map[string]time.Duration{"192.0.2.1:1": 3 * time.Second}
		})
		defer h.stop()
		sleep(1500 * time.Millisecond) // the first probes at 1s
		h.wantState("near", Running)
		h.wantState("nearapp", Running)
		h.wantState("far", Starting)
		sleep(3 * time.Second)
		h.wantState("far", Running)
		if st := h.status("far"); st.Health != "healthy" {
			t.Fatalf("far after its slow probe: %+v", st)
		}
	})
}

// slowDeath is a fakeRuntime in which a killed probe dies a moment later,
// as a real process does.
type slowDeath struct{ *fakeRuntime }

func (r slowDeath) Signal(pgid int, sig syscall.Signal) error {
	r.mu.Lock()
	probe := r.probes[pgid] && r.live[pgid] != ""
	r.mu.Unlock()
	if !probe || sig != syscall.SIGKILL {
		return r.fakeRuntime.Signal(pgid, sig)
	}
	time.AfterFunc(10*time.Millisecond, func() { r.fakeRuntime.Signal(pgid, sig) })
	return nil
}

// TestShutdownReapsProbes: an exec probe running at shutdown used to be
// killed but left unreaped when Run returned (found by the suite under
// load: the probe outlived ringsup); Run now returns once it is reaped.
func TestShutdownReapsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startOpts(t, gated, "", func(o *Options) {
			o.Runtime = slowDeath{o.Runtime.(*fakeRuntime)}
		}, func(f *fakeRuntime) { f.probeHang["db"] = true })
		sleep(1500 * time.Millisecond) // a probe is running, and hangs
		h.rt.mu.Lock()
		probes := len(h.rt.probes)
		h.rt.mu.Unlock()
		if probes == 0 {
			t.Fatal("no probe started")
		}
		h.stop()
		sleep(time.Second) // the probe dies, if it has not
		h.rt.mu.Lock()
		defer h.rt.mu.Unlock()
		if len(h.rt.pending) != 0 {
			t.Errorf("Run returned before reaping %v", h.rt.pending)
		}
	})
}
