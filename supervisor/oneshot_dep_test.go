package supervisor

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const migrationsChain = `
[daemons.db]
command = "db"
[daemons.migrate]
command = "migrate"
type = "oneshot"
depends_on = ["db"]
[daemons.app]
command = "app"
depends_on = ["migrate"]
[daemons.top]
command = "top"
depends_on = ["app"]
`

// TestDoneOneshotIsASatisfiedDependency: a done oneshot used to run again
// whenever a daemon depending on it was started or restarted (the demo's
// prepare_data ran once per `ctl restart training`). Like systemd's
// RemainAfterExit=yes it now runs again only when named itself, or when a
// reload changes it.
func TestDoneOneshotIsASatisfiedDependency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, migrationsChain, "")
		defer h.stop()
		h.rt.exit(t, "migrate", 0)
		synctest.Wait()
		h.wantState("top", Running)
		h.rt.takeLog()

		// runs counts the runs of migrate since the last call, and checks
		// that it is done again afterwards.
		runs := func() int {
			t.Helper()
			n := 0
			for _, l := range h.rt.takeLog() {
				if l == "spawn migrate" {
					n++
				}
			}
			if n > 0 {
				h.rt.exit(t, "migrate", 0)
				synctest.Wait()
			}
			if st := h.status("migrate"); st.State != Stopped || !st.Done {
				t.Fatalf("migrate = %+v, want done", st)
			}
			h.rt.takeLog()
			return n
		}
		do := func(what string, f func() error) {
			t.Helper()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			synctest.Wait()
		}
		for _, tc := range []struct {
			what string
			f    func() error
			want int
		}{
			{"start app while it runs", func() error { return h.sup.Start("app") }, 0},
			{"restart app", func() error { return h.sup.Restart(false, "app") }, 0},
			{"restart top, which depends on it indirectly", func() error { return h.sup.Restart(false, "top") }, 0},
			{"restart db (a cascade through its dependents)", func() error { return h.sup.Restart(false, "db") }, 0},
			{"db crashes (a cascade)", func() error { h.rt.exit(t, "db", 1); return nil }, 0},
			{"stop app, then start top", func() error {
				if err := h.sup.Stop("app"); err != nil {
					return err
				}
				synctest.Wait()
				return h.sup.Start("top")
			}, 0},
			{"restart --force app", func() error { return h.sup.Restart(true, "app") }, 0},
			{"start migrate", func() error { return h.sup.Start("migrate") }, 1},
			{"restart migrate", func() error { return h.sup.Restart(false, "migrate") }, 1},
			{"reload, migrate unchanged", func() error {
				writeConfig(t, h.path, strings.Replace(migrationsChain, `command = "app"`, `command = "app2"`, 1))
				sum, err := h.sup.Reload()
				if err == nil && !slices.Equal(sum.Restarted, []string{"app"}) {
					t.Errorf("Restarted = %q, want app", sum.Restarted)
				}
				return err
			}, 0},
			{"reload, migrate changed", func() error {
				changed := strings.Replace(migrationsChain, `command = "app"`, `command = "app2"`, 1)
				writeConfig(t, h.path, strings.Replace(changed, `command = "migrate"`, `command = "migrate2"`, 1))
				sum, err := h.sup.Reload()
				if err == nil && !slices.Equal(sum.Restarted, []string{"migrate"}) {
					t.Errorf("Restarted = %q, want migrate", sum.Restarted)
				}
				return err
			}, 1},
		} {
			do(tc.what, tc.f)
			sleep(10 * time.Minute) // any backoff over
			if got := runs(); got != tc.want {
				t.Errorf("%s: migrate ran %d times, want %d", tc.what, got, tc.want)
			}
			for _, name := range []string{"db", "app", "top"} {
				h.wantState(name, Running)
			}
		}
	})
}
