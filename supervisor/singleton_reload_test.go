package supervisor

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/ringrift/ringsup/procexec"
)

// liveGuards returns the pids of the guards still held: a guard exits (as
// the real one does) once its pipe is closed, the supervisor having let
// it go; one whose pipe is open is still there. Call after synctest.Wait.
func (f *fakeRuntime) liveGuards() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var held []int
	buf := make([]byte, 512)
	for pid, fd := range f.guards {
		for {
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EAGAIN) {
				held = append(held, pid)
				break
			}
			if n <= 0 { // the end of its pipe: released
				syscall.Close(fd)
				delete(f.guards, pid)
				f.exitLocked(pid, procexec.Exit{PID: pid})
				break
			}
		}
	}
	slices.Sort(held)
	return held
}

// hold has the node campaign for s at start-up and hold it with fence:
// the copy starts, then its guard. It leaves no events to drain.
func (c *fakeCluster) hold(t *testing.T, fence int64) {
	t.Helper()
	if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
		t.Fatalf("requests at start-up = %v, want [campaign s]", got)
	}
	c.h.rt.takeLog()
	c.grant(fence, c.ask)
	c.h.wantState("s", Running)
	if got := c.h.rt.takeLog(); !slices.Equal(got, []string{"spawn s", "spawn "}) {
		t.Fatalf("spawned %q, want s, then its guard", got)
	}
	if got := c.h.rt.liveGuards(); len(got) != 1 {
		t.Fatalf("guards of the held copy = %v, want one", got)
	}
	c.h.drain()
}

// released checks that the node gave s up once its copy was gone: it
// withdrew, lost it for why, and released the copy's guard.
func (c *fakeCluster) released(t *testing.T, why string) {
	t.Helper()
	if got := c.take(); !slices.Equal(got, []string{"withdraw s"}) {
		t.Fatalf("requests after the reload = %v, want [withdraw s]", got)
	}
	if got := lostReasons(t, c.h.drain()); !slices.Equal(got, []string{why}) {
		t.Fatalf("SINGLETON_LOST reasons = %v, want [%s]", got, why)
	}
	if got := c.h.rt.liveGuards(); len(got) != 0 {
		t.Fatalf("guards left after the copy stopped: %v", got)
	}
}

// reload writes body as the config, reloads, and lets the loop act.
func (h *harness) reload(body string) ReloadSummary {
	h.t.Helper()
	writeConfig(h.t, h.path, body)
	sum, err := h.sup.Reload()
	if err != nil {
		h.t.Fatalf("Reload: %v", err)
	}
	synctest.Wait()
	return sum
}

// TestSingletonReloadedLocal: a reload that makes a held singleton local
// stops its copy as the singleton it was: the guard is released once the
// copy is gone, the node withdraws its candidacy (SINGLETON_LOST,
// stopped), and only then the daemon starts as a local one, with no
// guard. It used to take the local policy at once: the stop skipped the
// singleton's bookkeeping, so the guard stayed (its pipe open) and the
// node never withdrew, and the nodes still running it as a singleton
// could never take over.
func TestSingletonReloadedLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, singletonWithDep, "")
		defer h.stop()
		c := &fakeCluster{h: h}
		c.hold(t, 5)
		sum := h.reload(strings.Replace(singletonWithDep, "placement = \"singleton\"\n", "", 1))
		if !slices.Equal(sum.Restarted, []string{"s"}) {
			t.Fatalf("Reload restarted %v, want [s]", sum.Restarted)
		}
		c.released(t, LostStopped)
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"SIGTERM s", "spawn s"}) {
			t.Fatalf("the reload did %q, want [SIGTERM s, spawn s]: no guard for the local daemon", got)
		}
		h.wantState("s", Running)
		if st := h.status("s"); st.Singleton != nil {
			t.Fatalf("status of s shows a singleton %+v after the reload made it local", *st.Singleton)
		}
		// The cluster's word no longer stops it.
		h.sup.Placement().Send(Verdict{Kind: VerdictLost, Daemon: "s", Reason: LostLease, Gone: true})
		synctest.Wait()
		h.wantState("s", Running)
		if live := h.rt.liveNames(); !slices.Equal(live, []string{"d", "s"}) {
			t.Fatalf("live processes = %v, want [d s]", live)
		}
	})
}

// TestSingletonReloadedFromLocal: a reload that makes a running local
// daemon a singleton stops the local copy first, and only then does the
// node campaign; the singleton's copy starts, with its guard, once a fence
// passes.
func TestSingletonReloadedFromLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, strings.Replace(singletonWithDep, "placement = \"singleton\"\n", "", 1), "")
		defer h.stop()
		c := &fakeCluster{h: h}
		h.wantState("s", Running)
		if got := c.take(); len(got) != 0 {
			t.Fatalf("requests for a local daemon = %v, want none", got)
		}
		h.rt.takeLog()
		h.reload(singletonWithDep)
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"SIGTERM s"}) {
			t.Fatalf("the reload did %q, want [SIGTERM s] and no start before a fence", got)
		}
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests after the reload = %v, want [campaign s]", got)
		}
		if live := h.rt.liveNames(); !slices.Equal(live, []string{"d"}) {
			t.Fatalf("live processes = %v, want [d]", live)
		}
		c.grant(3, c.ask)
		h.wantState("s", Running)
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn s", "spawn "}) {
			t.Fatalf("spawned %q, want s, then its guard", got)
		}
	})
}

// singletonLabeled is singletonWithDep on a node labeled gpu = "a100",
// with s placed on such nodes.
var singletonLabeled = strings.NewReplacer(
	"node = \"n1\"\n", "node = \"n1\"\nlabels = { gpu = \"a100\" }\n",
	"placement = \"singleton\"\n", "placement = \"singleton\"\nplacement_labels = { gpu = \"a100\" }\n",
).Replace(singletonWithDep)

// ineligible is singletonLabeled with s placed on other nodes.
var ineligible = strings.Replace(singletonLabeled, "placement_labels = { gpu = \"a100\" }", "placement_labels = { gpu = \"h100\" }", 1)

// TestSingletonReloadedIneligible: a reload whose placement_labels the
// node no longer matches stops the held copy, releases its guard, and
// withdraws the node (SINGLETON_LOST, ineligible); a node that was only
// waiting withdraws too, and a grant on its way starts nothing. A reload
// that makes the node eligible again has it campaign.
func TestSingletonReloadedIneligible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, singletonLabeled, "")
		defer h.stop()
		c := &fakeCluster{h: h}
		c.hold(t, 5)
		h.reload(ineligible)
		c.released(t, LostIneligible)
		if live := h.rt.liveNames(); !slices.Equal(live, []string{"d"}) {
			t.Fatalf("live processes = %v, want [d]", live)
		}
		h.wantState("s", Stopped)

		// Eligible again: the node campaigns, and holds it once granted.
		h.reload(singletonLabeled)
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests after the reload = %v, want [campaign s]", got)
		}
		// Ineligible while waiting: it withdraws, and the grant that was
		// on its way starts nothing.
		waiting := c.ask
		h.reload(ineligible)
		if got := c.take(); !slices.Equal(got, []string{"withdraw s"}) {
			t.Fatalf("requests after the reload = %v, want [withdraw s]", got)
		}
		c.grant(7, waiting)
		if live := h.rt.liveNames(); !slices.Equal(live, []string{"d"}) {
			t.Fatalf("live processes = %v, want [d]: s started on an ineligible node", live)
		}
	})
}
