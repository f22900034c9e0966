package supervisor

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// settled drains what w reported so far, without waiting.
func settled(w *Waiter) (out []Settled, closed bool) {
	for {
		select {
		case st, ok := <-w.C:
			if !ok {
				return out, true
			}
			out = append(out, st)
		default:
			return out, false
		}
	}
}

const settleNode = `
[profiles]
main = ["db", "app"]
other = ["db", "job"]

[daemons.db]
command = "db"
[daemons.db.health]
exec = ["probe"]
interval = "1s"
retries = 100
[daemons.app]
command = "app"
depends_on = ["db"]
[daemons.job]
command = "job"
type = "oneshot"
depends_on = ["db"]
[daemons.broken]
command = "broken"
[daemons.needy]
command = "needy"
depends_on = ["broken"]
`

func TestWaitingOperations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, settleNode, "main", func(f *fakeRuntime) {
			f.probeCode["db"] = 1
			f.noExec["broken"] = true
		})
		defer h.stop()

		// A restart is reported once the daemon is ready again, not when
		// it is spawned.
		h.rt.setProbe("db", 0, false)
		sleep(time.Second)
		h.wantState("app", Running)
		h.rt.setProbe("db", 1, false)
		w, err := h.sup.RestartWaiting(false, "db")
		if err != nil {
			t.Fatal(err)
		}
		sleep(5 * time.Second)
		if got, closed := settled(w); len(got) != 0 || closed {
			t.Fatalf("restart db while it is not ready: %+v, want nothing yet", got)
		}
		if p := w.Pending(); !slices.Equal(p, []string{"db"}) {
			t.Fatalf("Pending() = %q, want db", p)
		}
		h.rt.setProbe("db", 0, false)
		sleep(time.Second)
		if got, closed := settled(w); !closed || !slices.Equal(got, []Settled{{Daemon: "db", State: "running", OK: true}}) {
			t.Fatalf("restart db once ready: %+v (closed %v)", got, closed)
		}

		// A stop waits for the dependents to go first, then reports.
		w, err = h.sup.StopWaiting("db")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, closed := settled(w); !closed || !slices.Equal(got, []Settled{{Daemon: "db", State: "stopped", OK: true}}) {
			t.Fatalf("stop db: %+v (closed %v)", got, closed)
		}
		h.wantState("app", Stopped)

		// A start reports each daemon; one that cannot run gives up.
		w, err = h.sup.StartWaiting("app", "broken")
		if err != nil {
			t.Fatal(err)
		}
		sleep(time.Second)
		got, closed := settled(w)
		slices.SortFunc(got, func(a, b Settled) int { return len(a.Daemon) - len(b.Daemon) })
		if !closed || len(got) != 2 || got[0] != (Settled{Daemon: "app", State: "running", OK: true}) ||
			got[1].Daemon != "broken" || got[1].OK || got[1].State != "import_failed" || got[1].Error == "" {
			t.Fatalf("start app broken: %+v (closed %v)", got, closed)
		}

		// A profile switch waits for what joins (a oneshot: until done)
		// and for what leaves.
		w, err = h.sup.SetProfileWaiting("other")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got, _ = settled(w)
		if !slices.Equal(got, []Settled{{Daemon: "app", State: "stopped", OK: true}}) {
			t.Fatalf("profile other, job running: %+v, want app stopped only", got)
		}
		h.rt.exit(t, "job", 0)
		synctest.Wait()
		if got, closed := settled(w); !closed || !slices.Equal(got, []Settled{{Daemon: "job", State: "done", OK: true}}) {
			t.Fatalf("profile other, job done: %+v (closed %v)", got, closed)
		}

		if w, err = h.sup.StartWaiting("needy"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, closed := settled(w); !closed || len(got) != 1 || got[0].OK {
			t.Fatalf("start needy, whose dependency is import_failed: %+v (closed %v)", got, closed)
		}

		// A refused operation changes nothing and waits for nothing.
		if _, err := h.sup.StartWaiting("broken"); err == nil {
			t.Fatal("StartWaiting(import_failed) succeeded, want refused")
		}
		// Nothing to wait for: closed at the end of the pass; an unknown
		// name is removed.
		w, err = h.sup.Wait(map[string]Goal{"gone": GoalDown, "db": GoalSteady})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got, closed = settled(w)
		slices.SortFunc(got, func(a, b Settled) int { return len(a.Daemon) - len(b.Daemon) })
		if !closed || !slices.Equal(got, []Settled{{Daemon: "db", State: "running", OK: true}, {Daemon: "gone", State: "removed", OK: true}}) {
			t.Fatalf("Wait: %+v (closed %v)", got, closed)
		}

		// A daemon stopped because its dependency failed gave up, for
		// every goal but down.
		w, err = h.sup.Wait(map[string]Goal{"needy": GoalSteady})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got, closed = settled(w)
		if !closed || len(got) != 1 || got[0].OK || got[0].State != "stopped" || !strings.Contains(got[0].Error, `dependency "broken"`) {
			t.Fatalf("Wait(needy steady) after its dependency failed: %+v (closed %v)", got, closed)
		}

		// A waiter given up on is forgotten; one still waiting at
		// shutdown is closed.
		h.rt.setProbe("db", 1, false)
		w, _ = h.sup.RestartWaiting(false, "db")
		w.Stop()
		w2, _ := h.sup.RestartWaiting(false, "db")
		h.stop()
		got, closed = settled(w2)
		if !closed {
			t.Fatalf("a waiter left at shutdown is not closed: %+v", got)
		}
		if got, closed := settled(w); len(got) != 0 || closed {
			t.Fatalf("a stopped waiter received %+v (closed %v)", got, closed)
		}
	})
}
