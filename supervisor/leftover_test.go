package supervisor

import (
	"slices"
	"testing"
	"testing/synctest"

	"github.com/hashicorp/go-hclog"
)

func TestGroupTrackerFindsAndKillsLeftovers(t *testing.T) {
	rt := newFakeRuntime()
	g := newGroupTracker(rt, hclog.NewNullLogger())
	ours := rt.escape("web")   // a probe's, say: claimed by known
	stray := rt.escape("web")  // web's leftover
	other := rt.escape("gone") // of a daemon the config does not have
	bare := rt.escape("")      // no RINGSUP_DAEMON
	g.scan(func(pid int) bool { return pid == ours }, func(name string) bool { return name == "web" })
	if got := g.leftoversOf("web"); !slices.Equal(got, []int{stray}) {
		t.Fatalf("leftoversOf(web) = %v, want [%d] (not %d, %d, %d)", got, stray, ours, other, bare)
	}
	if got := g.owners(); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("owners() = %q, want [web]", got)
	}
	g.killLeftovers("web")
	if log := rt.takeLog(); !slices.Equal(log, []string{"SIGKILL leftover:web"}) {
		t.Fatalf("killLeftovers did %q", log)
	}
	if g.leftoversOf("web") != nil || g.settled() {
		t.Fatalf("after killLeftovers: leftovers %v, settled %v; want none, not settled until reaped", g.leftoversOf("web"), g.settled())
	}
	if exits, _ := rt.Reap(0); len(exits) != 1 || exits[0].PID != stray {
		t.Fatalf("reaped %v, want the leftover %d", exits, stray)
	}
	g.prune()
	if !g.settled() {
		t.Fatal("the killed leftover is gone, but the tracker is not settled")
	}
}

func TestGroupTrackerFollowsAKilledGroup(t *testing.T) {
	rt := newFakeRuntime()
	g := newGroupTracker(rt, hclog.NewNullLogger())
	pid, _ := rt.Spawn(specFor("db"))
	g.killGroup("db", pid)
	if !g.lingers(pid) || g.settled() {
		t.Fatalf("after killGroup: lingers %v, settled %v; want true, false", g.lingers(pid), g.settled())
	}
	g.prune()
	if g.lingers(pid) || !g.settled() {
		t.Fatalf("after the group is empty: lingers %v, settled %v; want false, true", g.lingers(pid), g.settled())
	}
	g.killGroup("db", pid) // a group already empty is not followed
	if !g.settled() {
		t.Fatal("an empty group is followed")
	}
}

// TestLeftoverKilledWhenItsDaemonStops runs the tracker in the loop: a
// process that escaped a daemon's group is shown in its status after an
// exit, and killed once the daemon is stopped for good.
func TestLeftoverKilledWhenItsDaemonStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, "[daemons.x]\ncommand = \"x\"\n[daemons.y]\ncommand = \"y\"\n", "")
		defer h.stop()
		pid := h.rt.escape("x")
		h.rt.exit(t, "y", 1) // any exit makes the loop look for leftovers
		synctest.Wait()
		if got := h.status("x").Leftovers; !slices.Equal(got, []int{pid}) {
			t.Fatalf("leftovers of x = %v, want [%d]", got, pid)
		}
		h.rt.takeLog()
		if err := h.sup.Stop("x"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if log := h.rt.takeLog(); !slices.Equal(log, []string{"SIGTERM x", "SIGKILL leftover:x"}) {
			t.Fatalf("stop x did %q, want its group stopped and its leftover killed", log)
		}
		if got := h.status("x").Leftovers; len(got) != 0 {
			t.Fatalf("leftovers of x after its stop = %v", got)
		}
	})
}
