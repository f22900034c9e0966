package supervisor

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringrift/ringsup/internal/boottime"
)

// TestSingletonLateGrantDoesNotSpawn: a grant that reached the loop past
// D − stop_timeout − FenceMargin (the loop frozen or slow since the fence
// passed) used to spawn the copy anyway, after its lease's deadline, when
// the next holder may already run it. The node loses the fence instead
// (SINGLETON_LOST, lease), spawns nothing, and asks for a fresh one.
func TestSingletonLateGrantDoesNotSpawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, singletonWithDep, "")
		defer h.stop()
		c := &fakeCluster{h: h}
		h.wantState("d", Running)
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests at start-up = %v, want [campaign s]", got)
		}
		h.drain()
		// stop_timeout is 1s: a D 1.1s ahead leaves the copy less than
		// FenceMargin to run before its stop would be due.
		c.grantUntil(5, c.ask, boottime.Now()+time.Second+FenceMargin/2)
		if live := h.rt.liveNames(); slices.Contains(live, "s") {
			t.Fatalf("s started on a grant past its lease's stop deadline: %v", live)
		}
		var lost []string
		for _, e := range h.drain() {
			if e.Type == SingletonLost {
				lost = append(lost, e.Reason)
			}
		}
		if !slices.Equal(lost, []string{LostLease}) {
			t.Fatalf("SINGLETON_LOST reasons = %v, want [%s]", lost, LostLease)
		}
		if got := c.take(); !slices.Equal(got, []string{"campaign s"}) {
			t.Fatalf("requests after the late grant = %v, want [campaign s]", got)
		}
		c.grant(5, c.ask)
		h.wantState("s", Running)
	})
}
