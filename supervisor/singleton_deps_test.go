package supervisor

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringrift/ringsup/internal/boottime"
)

// singletonWithDep is a node's config with the singleton s, which depends
// on the local daemon d.
const singletonWithDep = `
[cluster]
endpoints = ["http://127.0.0.1:2379"]
node = "n1"

[daemons.d]
command = "d"
backoff_min = "1s"

[daemons.s]
command = "s"
depends_on = ["d"]
placement = "singleton"
stop_timeout = "1s"
`

// fakeCluster plays the cluster's side of the placement link.
type fakeCluster struct {
	h   *harness
	ask int64 // the Ask of the last campaign taken
}

// take returns the fence requests the loop left for the cluster since the
// last call, as "campaign s" or "withdraw s".
func (c *fakeCluster) take() []string {
	var out []string
	for _, r := range c.h.sup.Placement().Take() {
		what := "withdraw "
		if r.Campaign {
			what = "campaign "
			c.ask = r.Ask
		}
		out = append(out, what+r.Daemon)
	}
	return out
}

// grant passes a fence for s, answering the campaign of ask, as the
// cluster does, with the lease's D an hour ahead, and lets the loop act.
func (c *fakeCluster) grant(fence, ask int64) {
	c.grantUntil(fence, ask, boottime.Now()+time.Hour)
}

// grantUntil is grant with the lease's D at d (CLOCK_BOOTTIME).
func (c *fakeCluster) grantUntil(fence, ask int64, d time.Duration) {
	c.h.sup.Placement().Send(Verdict{Kind: VerdictGranted, Daemon: "s", Fence: fence, Deadline: d, Ask: ask})
	synctest.Wait()
}

// lostReasons returns the reasons of the SINGLETON_LOST events of es, and
// fails unless each comes after a DAEMON_STOPPED of s: a node withdraws
// only once its copy is gone.
func lostReasons(t *testing.T, es []Event) []string {
	t.Helper()
	var out []string
	stopped := false
	for _, e := range es {
		switch {
		case e.Daemon == "s" && e.Type == DaemonStopped:
			stopped = true
		case e.Type == SingletonLost:
			if !stopped {
				t.Errorf("SINGLETON_LOST before the copy stopped: %v", eventTypes(es))
			}
			out = append(out, e.Reason)
		}
	}
	return out
}

// TestSingletonCampaignsOnlyWhileDepsRun: a node campaigns for a singleton
// only while its local dependencies run. When the dependency stops (ctl
// stop) or crashes, the holder's copy stops as in a cascade, and then the
// node withdraws with SINGLETON_LOST (reason dependency), so that a node
// whose dependencies run takes over; it campaigns again, without being
// started by name, once the dependency runs again.
func TestSingletonCampaignsOnlyWhileDepsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, singletonWithDep, "")
		defer h.stop()
		c := &fakeCluster{h: h}
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests at start-up = %v, want [campaign s]", got)
		}
		h.rt.takeLog()
		c.grant(5, c.ask)
		h.wantState("s", Running)
		// The copy, then its guard (a process of no daemon).
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn s", "spawn "}) {
			t.Fatalf("spawned %q, want s, then its guard", got)
		}
		h.drain()

		// ctl stop d: s stops first, then the node withdraws.
		if err := h.sup.Stop("d"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := c.take(); !slices.Equal(got, []string{"withdraw s"}) {
			t.Fatalf("requests after stop d = %v, want [withdraw s]", got)
		}
		if got := lostReasons(t, h.drain()); !slices.Equal(got, []string{LostDependency}) {
			t.Fatalf("SINGLETON_LOST reasons = %v, want [%s]", got, LostDependency)
		}
		h.wantState("d", Stopped)
		h.wantState("s", Stopped) // shown so: it waits for d, not a candidate
		if live := h.rt.liveNames(); slices.Contains(live, "s") || slices.Contains(live, "d") {
			t.Fatalf("live processes %v after stop d", live)
		}
		sleep(time.Minute)
		if got := c.take(); len(got) != 0 {
			t.Fatalf("requests while d is stopped = %v, want none", got)
		}

		// ctl start d: the node is a candidate again.
		if err := h.sup.Start("d"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.wantState("d", Running)
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests after start d = %v, want [campaign s]", got)
		}
		c.grant(7, c.ask)
		h.wantState("s", Running)
		h.drain()

		// d crashes: the cascade stops s, and the node withdraws until d
		// runs again after its backoff.
		h.rt.exit(t, "d", 1)
		synctest.Wait()
		h.wantState("d", Restarting)
		if got := c.take(); !slices.Equal(got, []string{"withdraw s"}) {
			t.Fatalf("requests after d crashed = %v, want [withdraw s]", got)
		}
		if got := lostReasons(t, h.drain()); !slices.Equal(got, []string{LostDependency}) {
			t.Fatalf("SINGLETON_LOST reasons = %v, want [%s]", got, LostDependency)
		}
		sleep(2 * time.Second)
		h.wantState("d", Running)
		withdrawn := c.ask
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests after d came back = %v, want [campaign s]", got)
		}
		if live := h.rt.liveNames(); slices.Contains(live, "s") {
			t.Fatalf("s runs without a fence: %v", live)
		}
		// A grant for the candidacy withdrawn when d crashed, on its way
		// while the node withdrew and campaigned anew, is stale: its key
		// is gone, and another node may hold the singleton.
		c.grant(7, withdrawn)
		if live := h.rt.liveNames(); slices.Contains(live, "s") {
			t.Fatalf("s started on a stale grant: %v", live)
		}
		c.grant(11, c.ask)
		h.wantState("s", Running)
	})
}

// TestSingletonWaitsForDepsBeforeCampaigning: a node never campaigns for a
// singleton before its dependencies run, so that a node with a broken
// dependency cannot take the singleton from a healthy one; the singleton
// waits (shown stopped) instead of giving up, and its node campaigns once
// the dependency is mended.
func TestSingletonWaitsForDepsBeforeCampaigning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, singletonWithDep, "", func(f *fakeRuntime) { f.noExec["d"] = true })
		defer h.stop()
		c := &fakeCluster{h: h}
		h.wantState("d", ImportFailed)
		sleep(time.Minute)
		if got := c.take(); len(got) != 0 {
			t.Fatalf("requests with d import_failed = %v, want none", got)
		}
		if st := h.status("s"); st.State != Stopped || st.PID != 0 {
			t.Fatalf("s = %v pid %d, want stopped", st.State, st.PID)
		}
		h.rt.mu.Lock()
		h.rt.noExec["d"] = false
		h.rt.mu.Unlock()
		if err := h.sup.Restart(true, "d"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.wantState("d", Running)
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests once d runs = %v, want [campaign s]", got)
		}
		if es := eventTypes(h.drain()); slices.ContainsFunc(es, func(e string) bool { return strings.HasPrefix(e, "SINGLETON") }) {
			t.Fatalf("events %v: nothing was held, nothing to lose", es)
		}
	})
}

// TestSingletonHeldElsewhereIsUpHere: on a node where another node holds
// the singleton, start-up is done once the cluster says who holds it (a
// Type=notify unit is told READY=1 instead of timing out), the status line
// counts it stopped, as ctl status shows it, and `ctl start` of it
// reports it up as stopped@n2 instead of waiting for a failover.
func TestSingletonHeldElsewhereIsUpHere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeManager{}
		h := startOpts(t, singletonWithDep, "", func(o *Options) { o.Manager = m })
		defer h.stop()
		c := &fakeCluster{h: h}
		h.wantState("d", Running)
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests at start-up = %v, want [campaign s]", got)
		}
		for _, said := range m.take() {
			if strings.HasPrefix(said, "ready") {
				t.Fatalf("ready before anyone holds s: %q", said)
			}
		}
		h.sup.Placement().Send(Verdict{Kind: VerdictOwner, Daemon: "s", Owner: "n2", Fence: 3})
		synctest.Wait()
		if said := m.take(); !slices.Contains(said, "ready 1 running, 1 stopped") {
			t.Fatalf("told the manager %q, want ready with s stopped", said)
		}
		w, err := h.sup.StartWaiting("s")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got, ok := <-w.C
		if !ok || !got.OK || got.State != "stopped@n2" {
			t.Fatalf("ctl start s settled %+v (%v), want OK stopped@n2", got, ok)
		}
		if live := h.rt.liveNames(); slices.Contains(live, "s") {
			t.Fatalf("s runs here without a fence: %v", live)
		}
	})
}
