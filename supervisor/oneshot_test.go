package supervisor

import (
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

const migrations = `
[daemons.db]
command = "db"
[daemons.migrate]
command = "migrate"
type = "oneshot"
depends_on = ["db"]
backoff_min = "1s"
[daemons.app]
command = "app"
depends_on = ["migrate"]
`

func TestOneshotGatesItsDependents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, migrations, "")
		defer h.stop()
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn db", "spawn migrate"}) {
			t.Fatalf("at start: %q, want db then migrate, app waiting", got)
		}
		h.wantState("migrate", Running)
		h.wantState("app", Starting)

		// A failed run is retried with the usual policy; app still waits.
		h.rt.exit(t, "migrate", 1)
		synctest.Wait()
		h.wantState("migrate", Restarting)
		sleep(time.Second)
		h.wantState("app", Starting)
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn migrate"}) {
			t.Fatalf("after the backoff: %q, want migrate run again", got)
		}

		h.rt.exit(t, "migrate", 0)
		synctest.Wait()
		st := h.status("migrate")
		if st.State != Stopped || !st.Done || st.LastExit == nil || st.LastExit.Code != 0 || st.LastError != "" {
			t.Fatalf("migrate after exit 0 = %+v, want stopped, done, last_exit 0", st)
		}
		h.wantState("app", Running)
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn app"}) {
			t.Fatalf("after migrate is done: %q, want app spawned", got)
		}

		// ctl start runs it again; app is left alone.
		if err := h.sup.Start("migrate"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := h.rt.takeLog(); !slices.Equal(got, []string{"spawn migrate"}) {
			t.Fatalf("start migrate: %q", got)
		}
		if st := h.status("migrate"); st.State != Running || st.Done {
			t.Fatalf("migrate rerun = %+v, want running, not done", st)
		}
		h.wantState("app", Running)
	})
}

// TestBackoffJitter checks that jitter spreads restart delays within the
// configured fraction, and that a seeded source makes them reproducible.
func TestBackoffJitter(t *testing.T) {
	delays := func(seed uint64) []float64 {
		var out []float64
		synctest.Test(t, func(t *testing.T) {
			h := startOpts(t, `
[daemons.x]
command = "x"
backoff_min = "10s"
backoff_max = "10s"
backoff_jitter = 0.5
max_restarts = 100
`, "", func(o *Options) { o.Rand = rand.New(rand.NewPCG(seed, 0)) })
			defer h.stop()
			for range 20 {
				h.rt.exit(t, "x", 1)
				synctest.Wait()
				for _, e := range h.drain() {
					if e.Type == DaemonRestarting {
						out = append(out, *e.DelayS)
					}
				}
				sleep(16 * time.Second)
			}
		})
		return out
	}
	a, b, c := delays(1), delays(1), delays(2)
	if len(a) != 20 {
		t.Fatalf("got %d restarts, want 20", len(a))
	}
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different delays:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds, same delays: %v", a)
	}
	lo, hi := slices.Min(a), slices.Max(a)
	if lo < 5 || hi > 15 || hi-lo < 2 {
		t.Errorf("delays from %v to %v, want spread within 10s ±50%%", lo, hi)
	}
}
