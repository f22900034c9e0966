package supervisor

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
)

var execCheck = &config.Health{Exec: []string{"probe"}, Interval: 10 * time.Second, Timeout: 2 * time.Second,
	Retries: 2, StartPeriod: 5 * time.Second, OnUnhealthy: "restart"}

var httpIgnore = &config.Health{HTTP: "http://127.0.0.1:1/", Interval: 10 * time.Second, Timeout: 2 * time.Second,
	Retries: 1, OnUnhealthy: "ignore"}

// healthTransitions is healthStep's table: each row one situation, the
// state it leads to and the verdict.
var healthTransitions = []struct {
	name  string
	check healthCheck
	h     healthState
	in    healthInput
	at    time.Duration // after t0
	want  healthState
	v     verdict
}{
	{"spawned with a probe: first probe within a second",
		healthCheck{Probe: execCheck}, healthState{}, healthInput{kind: hSpawned, incarnation: 3}, 0,
		healthState{Incarnation: 3, Live: true, Status: healthUnknown, SpawnedAt: t0, Next: t0.Add(time.Second)}, verdict{}},
	{"spawned without checks",
		healthCheck{}, healthState{Incarnation: 2, LastErr: "old"}, healthInput{kind: hSpawned, incarnation: 3}, 0,
		healthState{Incarnation: 3, Live: true, Status: healthNone, SpawnedAt: t0}, verdict{}},
	{"probe due: start it, time the exec probe",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Next: t0}, healthInput{kind: hDeadline}, 0,
		healthState{Incarnation: 3, Live: true, InFlight: true, KillProbe: t0.Add(2 * time.Second)}, verdict{Probe: true}},
	{"probe due while one runs: wait",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Next: t0, InFlight: true}, healthInput{kind: hDeadline}, 0,
		healthState{Incarnation: 3, Live: true, Next: t0, InFlight: true}, verdict{}},
	{"first pass: healthy and ready",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Status: healthUnknown, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3}, 0,
		healthState{Incarnation: 3, Live: true, Status: healthHealthy, Ready: true, Next: t0.Add(10 * time.Second)},
		verdict{Event: DaemonHealthy, Ready: true}},
	{"first pass, readiness notified: healthy, not ready",
		healthCheck{Probe: execCheck, Notified: true}, healthState{Incarnation: 3, Live: true, Status: healthUnknown, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3}, 0,
		healthState{Incarnation: 3, Live: true, Status: healthHealthy, Next: t0.Add(time.Second)}, verdict{Event: DaemonHealthy}},
	{"stale outcome",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 2}, 0,
		healthState{Incarnation: 3, Live: true, InFlight: true}, verdict{}},
	{"outcome after the process went",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("x")}, 0,
		healthState{Incarnation: 3}, verdict{}},
	{"failure in the start period does not count",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, SpawnedAt: t0, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("refused")}, 4 * time.Second,
		healthState{Incarnation: 3, Live: true, SpawnedAt: t0, LastErr: "refused", Next: t0.Add(5 * time.Second)}, verdict{}},
	{"failure below retries",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Ready: true, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("refused")}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, LastErr: "refused", Failures: 1, Next: t0.Add(10 * time.Second)}, verdict{}},
	{"retries reached, on_unhealthy restart",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Ready: true, Status: healthHealthy, Failures: 1, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("refused")}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, Status: healthUnhealthy, LastErr: "refused", Failures: 2, Next: t0.Add(10 * time.Second)},
		verdict{Event: DaemonUnhealthy, Error: "refused", Unhealthy: errors.New("unhealthy: 2 failed probes, last: refused")}},
	{"retries reached, on_unhealthy ignore",
		healthCheck{Probe: httpIgnore}, healthState{Incarnation: 3, Live: true, Ready: true, Status: healthHealthy, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("503")}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, Status: healthUnhealthy, LastErr: "503", Failures: 1, Next: t0.Add(10 * time.Second)},
		verdict{Event: DaemonUnhealthy, Error: "503"}},
	{"never ready: unhealthy restarts even with ignore",
		healthCheck{Probe: httpIgnore}, healthState{Incarnation: 3, Live: true, Status: healthUnknown, InFlight: true}, healthInput{kind: hProbeDone, incarnation: 3, err: errors.New("503")}, 0,
		healthState{Incarnation: 3, Live: true, Status: healthUnhealthy, LastErr: "503", Failures: 1, Next: t0.Add(time.Second)},
		verdict{Event: DaemonUnhealthy, Error: "503", Unhealthy: errors.New("unhealthy: 1 failed probes, last: 503")}},
	{"exec probe timed out: drop it, count a failure",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Ready: true, InFlight: true, KillProbe: t0}, healthInput{kind: hDeadline}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, LastErr: "probe timed out after 2s", Failures: 1, Next: t0.Add(10 * time.Second)},
		verdict{DropProbe: true}},
	{"gone: stop probing, drop the running probe",
		healthCheck{Probe: execCheck}, healthState{Incarnation: 3, Live: true, Status: healthHealthy, InFlight: true, KillProbe: t0, Next: t0}, healthInput{kind: hGone}, 0,
		healthState{Incarnation: 3, Status: healthHealthy}, verdict{DropProbe: true}},
	{"notified ready, with a watchdog",
		healthCheck{Notified: true, Watchdog: 3 * time.Second}, healthState{Incarnation: 3, Live: true}, healthInput{kind: hNotified, ready: true, status: "up"}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, WatchdogAt: t0.Add(3 * time.Second), StatusText: "up"}, verdict{Ready: true}},
	{"watchdog kept alive",
		healthCheck{Notified: true, Watchdog: 3 * time.Second}, healthState{Incarnation: 3, Live: true, Ready: true, WatchdogAt: t0}, healthInput{kind: hNotified, watchdog: true}, time.Second,
		healthState{Incarnation: 3, Live: true, Ready: true, WatchdogAt: t0.Add(4 * time.Second)}, verdict{}},
	{"watchdog missed",
		healthCheck{Notified: true, Watchdog: 3 * time.Second}, healthState{Incarnation: 3, Live: true, Ready: true, Status: healthUnknown, WatchdogAt: t0}, healthInput{kind: hDeadline}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, Status: healthUnhealthy, LastErr: "watchdog: no WATCHDOG=1 for 3s"},
		verdict{Event: DaemonUnhealthy, Error: "watchdog: no WATCHDOG=1 for 3s", Unhealthy: errors.New("unhealthy: watchdog: no WATCHDOG=1 for 3s")}},
	{"watchdog missed, probe says ignore",
		healthCheck{Probe: httpIgnore, Notified: true, Watchdog: 3 * time.Second}, healthState{Incarnation: 3, Live: true, Ready: true, Status: healthHealthy, WatchdogAt: t0}, healthInput{kind: hDeadline}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true, Status: healthUnhealthy, LastErr: "watchdog: no WATCHDOG=1 for 3s"},
		verdict{Event: DaemonUnhealthy, Error: "watchdog: no WATCHDOG=1 for 3s"}},
	{"readiness pipe of this process",
		healthCheck{Notified: true}, healthState{Incarnation: 3, Live: true}, healthInput{kind: hPipeReady, incarnation: 3}, 0,
		healthState{Incarnation: 3, Live: true, Ready: true}, verdict{Ready: true}},
	{"readiness pipe of an earlier process",
		healthCheck{Notified: true}, healthState{Incarnation: 3, Live: true}, healthInput{kind: hPipeReady, incarnation: 2}, 0,
		healthState{Incarnation: 3, Live: true}, verdict{}},
	{"notification after the process went",
		healthCheck{Notified: true}, healthState{Incarnation: 3}, healthInput{kind: hNotified, ready: true}, 0,
		healthState{Incarnation: 3}, verdict{}},
}

func TestHealthTransitions(t *testing.T) {
	for _, tt := range healthTransitions {
		got, v := healthStep(tt.h, tt.check, tt.in, t0.Add(tt.at))
		if got != tt.want || fmt.Sprint(v) != fmt.Sprint(tt.v) {
			t.Errorf("healthStep(%v) [%s] =\n  %+v %+v,\nwant\n  %+v %+v", tt.in.kind, tt.name, got, v, tt.want, tt.v)
		}
	}
}

// TestHealthStepIsTotal walks every input in every kind of health state
// and checks the invariants the loop relies on.
func TestHealthStepIsTotal(t *testing.T) {
	checks := []healthCheck{{}, {Probe: execCheck}, {Probe: httpIgnore, Notified: true, Watchdog: time.Second}}
	for ci, c := range checks {
		for _, live := range []bool{false, true} {
			for _, inFlight := range []bool{false, true} {
				for _, kind := range allHealthInputs() {
					// A reachable state: deadlines only while live, and
					// only for what is checked.
					h := healthState{Incarnation: 3, Live: live, InFlight: live && inFlight && c.Probe != nil}
					if live && c.Probe != nil && !h.InFlight {
						h.Next = t0
					}
					if h.InFlight && len(c.Probe.Exec) > 0 {
						h.KillProbe = t0
					}
					if live && c.Watchdog > 0 {
						h.WatchdogAt = t0
					}
					in := healthInput{kind: kind, incarnation: 3, err: errors.New("x"), ready: true, watchdog: true}
					got, v := healthStep(h, c, in, t0)
					name := fmt.Sprintf("healthStep(check %d, live %v, in flight %v, %v)", ci, live, inFlight, kind)
					if !got.Live && (v.Probe || v.Ready || v.Unhealthy != nil || v.Event != "" || !got.deadline().IsZero()) {
						t.Errorf("%s = %+v %+v: acts on a process that is gone", name, got, v)
					}
					if v.Probe && !got.InFlight {
						t.Errorf("%s starts a probe without marking it in flight", name)
					}
					if v.Probe && c.Probe == nil {
						t.Errorf("%s starts a probe without one configured", name)
					}
					if got.Live && c.Probe != nil && got.Next.IsZero() && !got.InFlight {
						t.Errorf("%s = %+v: probing stopped", name, got)
					}
				}
			}
		}
	}
}
