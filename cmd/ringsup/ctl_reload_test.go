package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCtlReload: `ctl reload` prints what changed; an invalid file (a syntax
// error, a dependency cycle) exits 1 with the positioned error, changes
// nothing, and CONFIG_RELOAD_FAILED reaches `ctl events`.
func TestCtlReload(t *testing.T) {
	dir, _, steady := startReloadNode(t, false)
	changed := readPID(t, filepath.Join(dir, "changed.pid"))
	ev := startCtl(t, dir, "events")
	// It used to miss the first reload's CONFIG_RELOADED when it had not
	// subscribed yet: reload the unchanged file until an event reaches
	// it, and look only at what it prints after that.
	eventually(t, 10*time.Second, "ctl events subscribed", func() bool {
		ctlOK(t, dir, "reload")
		return strings.Contains(ev.stdout.String(), `"type":"CONFIG_RELOADED"`)
	})
	subscribed := len(ev.stdout.String())

	write(t, filepath.Join(dir, "ringsup.toml"), reloadNode(false, "v2")+`
[daemons.extra]
command = "exec sleep 1000"
`)
	// It prints the summary, then each daemon as it settles.
	out := ctlOK(t, dir, "reload")
	summary := "added:     extra\nremoved:   -\nrestarted: changed\nupdated:   -\n"
	settled := strings.Split(strings.TrimSuffix(strings.TrimPrefix(out, summary), "\n"), "\n")
	slices.Sort(settled)
	if !strings.HasPrefix(out, summary) || !slices.Equal(settled, []string{"changed: running", "extra: running"}) {
		t.Errorf("ctl reload printed\n%s\nwant\n%schanged: running\nextra: running (in either order)", out, summary)
	}
	wantReloaded(t, dir, "v2", steady, nil)

	for name, bad := range map[string]string{
		"syntax": reloadNode(false, "v3") + "\n[daemons.broken\n",
		"cycle": reloadNode(false, "v3") + `
[daemons.a]
command = "x"
depends_on = ["b"]
[daemons.b]
command = "x"
depends_on = ["a"]
`,
	} {
		t.Run(name, func(t *testing.T) {
			changed = readPID(t, filepath.Join(dir, "changed.pid"))
			write(t, filepath.Join(dir, "ringsup.toml"), bad)
			_, errOut, code := ctl(t, dir, "reload")
			if code != 1 || !strings.Contains(errOut, "ringsup.toml:") {
				t.Fatalf("ctl reload of a bad file: exit %d, stderr %q; want 1 and the positioned error", code, errOut)
			}
			if name == "cycle" && !strings.Contains(errOut, "dependency cycle: a -> b -> a") {
				t.Errorf("cycle error does not show the cycle: %q", errOut)
			}
			if got := readPID(t, filepath.Join(dir, "changed.pid")); got != changed || processGone(changed) {
				t.Errorf("a failed reload restarted changed (%d -> %d)", changed, got)
			}
		})
	}
	defer func() {
		if t.Failed() {
			t.Logf("ctl events printed:\n%s", ev.stdout)
		}
	}()
	eventually(t, 10*time.Second, "CONFIG_RELOAD_FAILED in ctl events", func() bool {
		out := ev.stdout.String()[subscribed:]
		return strings.Count(out, `"type":"CONFIG_RELOAD_FAILED"`) >= 2 &&
			strings.Contains(out, `"type":"CONFIG_RELOADED"`)
	})
}

// TestCtlProfile switches the active profile of a running node.
func TestCtlProfile(t *testing.T) {
	dir, _ := runNode(t, `
[profiles]
one = ["a"]
two = ["b"]

[daemons.a]
command = "echo $$ > a.pid; exec sleep 1000"
[daemons.b]
command = "echo $$ > b.pid; exec sleep 1000"
`)
	// No default profile: both run.
	a := readPID(t, filepath.Join(dir, "a.pid"))
	b := readPID(t, filepath.Join(dir, "b.pid"))
	ctlOK(t, dir, "profile", "two")
	eventually(t, 10*time.Second, "a stops", func() bool { return processGone(a) })
	if processGone(b) {
		t.Error("b stopped when switching to the profile that has it")
	}
	ctlOK(t, dir, "profile", "one")
	eventually(t, 10*time.Second, "b stops", func() bool { return processGone(b) })
	if a2 := readPID(t, filepath.Join(dir, "a.pid")); a2 == a || processGone(a2) {
		t.Error("a did not start again with profile one")
	}
	if st := ctlStatus(t, dir); st["profile"] != "one" {
		t.Errorf("status profile after the switch = %v, want one", st["profile"])
	}
	if msg := ctlFails(t, dir, "profile", "three"); !strings.Contains(msg, `unknown profile "three" (have: one, two)`) {
		t.Errorf("ctl profile three: %q", msg)
	}
}

// TestCtlStatusShowsOneshotDone: a completed oneshot is "done" in the table,
// and its dependent started after it.
func TestCtlStatusShowsOneshotDone(t *testing.T) {
	dir, _ := runNode(t, `
[daemons.migrate]
type = "oneshot"
command = "sleep 0.3; touch migrated"
[daemons.app]
command = "test -e migrated && echo yes > app.saw; echo $$ > app.pid; exec sleep 1000"
depends_on = ["migrate"]
`)
	readPID(t, filepath.Join(dir, "app.pid"))
	if saw, _ := os.ReadFile(filepath.Join(dir, "app.saw")); strings.TrimSpace(string(saw)) != "yes" {
		t.Fatal("app started before migrate was done")
	}
	out := ctlOK(t, dir, "status", "migrate")
	if !regexp.MustCompile(`(?m)^migrate +done +- `).MatchString(out) {
		t.Errorf("status table:\n%s\nwant migrate shown as done", out)
	}
	st := ctlStatus(t, dir, "migrate")
	if got := daemonField(st, "migrate", "state"); got != "stopped" {
		t.Errorf("JSON state of done oneshot = %v, want stopped", got)
	}
}
