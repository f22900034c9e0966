package supervisor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringrift/ringsup/config"
)

const reloadBase = `
[profiles]
main = ["a", "c", "p", "r", "x"]

[daemons.a]
command = "a"
[daemons.b]
command = "b"
depends_on = ["a"]
[daemons.c]
command = "c"
depends_on = ["b"]
[daemons.p]
command = "p"
max_restarts = 2
[daemons.r]
command = "r"
[daemons.x]
command = "x"
[daemons.out]
command = "out"
`

func TestReloadAppliesAMinimalDiff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, reloadBase, "main")
		defer h.stop()
		before, _ := h.sup.Status()
		h.rt.takeLog()
		h.drain()
		// b's command changes (c depends on it and restarts too), p gets a
		// policy change, r is removed, n is added, out joins the profile
		// and x leaves it; a is untouched.
		next := strings.NewReplacer(
			"command = \"b\"", "command = \"b2\"",
			"max_restarts = 2", "max_restarts = 7",
			"[daemons.r]\ncommand = \"r\"\n", "[daemons.n]\ncommand = \"n\"\n",
			`main = ["a", "c", "p", "r", "x"]`, `main = ["a", "c", "p", "n", "out"]`,
		).Replace(reloadBase)
		writeConfig(t, h.path, next)
		sum, err := h.sup.Reload()
		if err != nil {
			t.Fatalf("Reload: %v", err)
		}
		want := ReloadSummary{Added: []string{"n"}, Removed: []string{"r"}, Restarted: []string{"b"}, Updated: []string{"p"}}
		if !slices.Equal(sum.Added, want.Added) || !slices.Equal(sum.Removed, want.Removed) ||
			!slices.Equal(sum.Restarted, want.Restarted) || !slices.Equal(sum.Updated, want.Updated) {
			t.Fatalf("Reload = %+v, want %+v", sum, want)
		}
		synctest.Wait()
		log := h.rt.takeLog()
		for _, w := range []string{"SIGTERM c", "SIGTERM b", "spawn b", "spawn c", "SIGTERM r", "spawn n", "spawn out", "SIGTERM x"} {
			if !slices.Contains(log, w) {
				t.Errorf("reload did not %q; did %q", w, log)
			}
		}
		if i, j := slices.Index(log, "SIGTERM c"), slices.Index(log, "SIGTERM b"); i > j {
			t.Errorf("b stopped before its dependent c: %q", log)
		}
		for _, w := range []string{"a", "p"} {
			if slices.ContainsFunc(log, func(s string) bool { return strings.HasSuffix(s, " "+w) }) {
				t.Errorf("reload touched %s: %q", w, log)
			}
		}
		after, _ := h.sup.Status()
		if after.Daemons["a"].PID != before.Daemons["a"].PID || after.Daemons["p"].PID != before.Daemons["p"].PID {
			t.Errorf("unchanged daemons changed pid: a %d->%d, p %d->%d",
				before.Daemons["a"].PID, after.Daemons["a"].PID, before.Daemons["p"].PID, after.Daemons["p"].PID)
		}
		if _, ok := after.Daemons["r"]; ok {
			t.Errorf("removed daemon r still in status")
		}
		for name, want := range map[string]State{"b": Running, "c": Running, "n": Running, "out": Running, "x": Stopped} {
			if got := after.Daemons[name].State; got != want {
				t.Errorf("after reload %s is %v, want %v", name, got, want)
			}
		}
		// The policy change applies in place: p now fails after 7 restarts.
		if got := h.sup.daemonsForTest()["p"].pol.MaxRestarts; got != 7 {
			t.Errorf("p max_restarts = %d, want 7", got)
		}
		var reloaded *Event
		for _, e := range h.drain() {
			if e.Type == ConfigReloaded {
				reloaded = &e
			}
		}
		if reloaded == nil || !slices.Equal(reloaded.Added, []string{"n"}) {
			t.Errorf("CONFIG_RELOADED event = %+v", reloaded)
		}
	})
}

func TestInvalidReloadChangesNothing(t *testing.T) {
	for name, bad := range map[string]string{
		"syntax": reloadBase + "\n[daemons.zz\n",
		"cycle":  strings.Replace(reloadBase, "[daemons.a]\ncommand = \"a\"", "[daemons.a]\ncommand = \"a\"\ndepends_on = [\"c\"]", 1),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, reloadBase, "main")
				defer h.stop()
				h.rt.takeLog()
				h.drain()
				writeConfig(t, h.path, bad)
				_, err := h.sup.Reload()
				var list config.ErrorList
				if !errors.As(err, &list) || !strings.Contains(err.Error(), "ringsup.toml:") {
					t.Fatalf("Reload = %v, want positioned config errors", err)
				}
				synctest.Wait()
				if got := h.rt.takeLog(); len(got) != 0 {
					t.Errorf("invalid reload did %q, want nothing", got)
				}
				ev := h.drain()
				if len(ev) != 1 || ev[0].Type != ConfigReloadFailed || ev[0].Error == "" {
					t.Errorf("events = %+v, want one CONFIG_RELOAD_FAILED with the error", ev)
				}
			})
		})
	}
}

func TestReloadWaitsForACascade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, reloadBase, "main", func(f *fakeRuntime) { f.ignore["c"] = true })
		defer h.stop()
		h.rt.exit(t, "a", 1) // c is stopped by the cascade and ignores SIGTERM
		synctest.Wait()
		h.wantState("c", Stopping)
		h.rt.takeLog()
		writeConfig(t, h.path, strings.Replace(reloadBase, `command = "x"`, `command = "x2"`, 1))
		done := make(chan error, 1)
		var sum ReloadSummary
		go func() {
			var err error
			sum, err = h.sup.Reload()
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("reload applied during a cascade (err %v)", err)
		default:
		}
		sleep(10 * time.Second) // c's stop_timeout: it is killed, the cascade goes on
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		log := h.rt.takeLog()
		if i, j := slices.Index(log, "SIGKILL c"), slices.Index(log, "SIGTERM x"); i < 0 || j < i {
			t.Errorf("reload (%+v) not applied after the cascade: %q", sum, log)
		}
	})
}

func TestSetProfile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, reloadBase, "main")
		defer h.stop()
		h.rt.takeLog()
		h.drain()
		var unknown *config.UnknownProfileError
		if err := h.sup.SetProfile("nope"); !errors.As(err, &unknown) {
			t.Fatalf("SetProfile(nope) = %v, want unknown profile", err)
		}
		// small: out joins; a, b, c, p, r, x leave.
		writeConfig(t, h.path, strings.Replace(reloadBase, "[profiles]\n", "[profiles]\nsmall = [\"out\"]\n", 1))
		if _, err := h.sup.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.rt.takeLog()
		if err := h.sup.SetProfile("small"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		log := h.rt.takeLog()
		if !slices.Contains(log, "spawn out") || !slices.Contains(log, "SIGTERM a") || slices.Index(log, "SIGTERM c") > slices.Index(log, "SIGTERM a") {
			t.Errorf("switch to small did %q, want out started and c stopped before a", log)
		}
		st, _ := h.sup.Status()
		if st.Profile != "small" || st.Daemons["out"].State != Running || st.Daemons["a"].State != Stopped {
			t.Errorf("after the switch: profile %q, out %v, a %v", st.Profile, st.Daemons["out"].State, st.Daemons["a"].State)
		}
		var changed bool
		for _, e := range h.drain() {
			changed = changed || (e.Type == ProfileChanged && e.Profile == "small")
		}
		if !changed {
			t.Error("no PROFILE_CHANGED event")
		}
		// The profile survives a reload.
		if _, err := h.sup.Reload(); err != nil {
			t.Fatal(err)
		}
		if st, _ := h.sup.Status(); st.Profile != "small" {
			t.Errorf("profile after reload = %q", st.Profile)
		}
	})
}

// TestReloadRemovesAHealthCheck: a reload that removes the health check of
// a running daemon (a setting applied in place) used to leave its next
// probe armed, and the loop then ran a probe of a nil check and panicked.
func TestReloadRemovesAHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const withProbe = "[daemons.db]\ncommand = \"db\"\n[daemons.db.health]\nexec = [\"probe\"]\ninterval = \"5s\"\n"
		h := start(t, withProbe, "")
		defer h.stop()
		sleep(time.Second) // the first probe passes: running
		pid := h.status("db").PID
		h.wantState("db", Running)
		writeConfig(t, h.path, "[daemons.db]\ncommand = \"db\"\n")
		if sum, err := h.sup.Reload(); err != nil || !slices.Equal(sum.Updated, []string{"db"}) {
			t.Fatalf("Reload = %+v, %v; want db updated in place", sum, err)
		}
		sleep(time.Minute) // past many probe intervals
		if st := h.status("db"); st.State != Running || st.PID != pid || st.Health != "none" {
			t.Fatalf("db after its check was removed = %+v, want running, pid %d, health none", st, pid)
		}
	})
}
