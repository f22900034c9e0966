package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitNode: db is ready once the file "ready" exists; app depends on it;
// job is a oneshot; stubborn ignores SIGTERM for its stop_timeout.
const waitNode = `
[supervisor]
log_dir = "logs"
default_profile = "main"

[profiles]
main = ["app", "stubborn"]
small = ["db", "job"]

[daemons.db]
command = "exec sleep 1000"
[daemons.db.health]
exec = ["test", "-f", "ready"]
interval = "100ms"
retries = 1000

[daemons.app]
command = "exec sleep 1000"
depends_on = ["db"]

[daemons.job]
type = "oneshot"
command = "sleep 0.3"

[daemons.stubborn]
command = "trap '' TERM; while :; do sleep 0.05; done"
stop_timeout = "1s"

[daemons.broken]
command = ["./no-such-program"]
`

// TestCtlVerbsWait: start, stop, restart and profile return once every
// daemon they name has settled, saying how, so that the state is final
// when they return; --timeout bounds the wait and --no-block does not wait.
func TestCtlVerbsWait(t *testing.T) {
	quickRaceExit(t)
	dir, _ := runNode(t, waitNode)
	state := func(name string) string {
		return daemonField(ctlStatus(t, dir, name), name, "state").(string)
	}

	// db never gets ready: the start times out naming what is pending.
	out, errOut, code := ctl(t, dir, "start", "--timeout", "1s", "app")
	if code != 1 || out != "" || errOut != "ringsup ctl: timed out after 1s; still pending: app\n" {
		t.Errorf("start app with db not ready: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if s := state("app"); s != "starting" {
		t.Errorf("app after the timeout = %s, want starting still", s)
	}

	// Once db is ready, the start returns when app runs.
	write(t, filepath.Join(dir, "ready"), "")
	if out := ctlOK(t, dir, "start", "app", "db"); !sameLines(out, "app: running\ndb: running\n") {
		t.Errorf("start app db printed %q", out)
	}
	if s := state("app"); s != "running" {
		t.Errorf("app after start returned = %s, want running", s)
	}

	// A stop waits for the stop_timeout of a daemon that ignores SIGTERM.
	start := time.Now()
	if out := ctlOK(t, dir, "stop", "stubborn"); out != "stubborn: stopped\n" {
		t.Errorf("stop stubborn printed %q", out)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("stop stubborn returned after %v, before its 1s stop_timeout", took)
	}
	if s := state("stubborn"); s != "stopped" {
		t.Errorf("stubborn after stop returned = %s", s)
	}

	// A oneshot is waited for until done.
	if out := ctlOK(t, dir, "restart", "job"); out != "job: done\n" {
		t.Errorf("restart job printed %q", out)
	}

	// One that cannot run: exit 1 after the others settled.
	out, errOut, code = ctl(t, dir, "restart", "--force", "broken", "db")
	if code != 1 || !strings.Contains(out, "db: running\n") || !strings.Contains(out, "broken: import_failed: ") ||
		errOut != "ringsup ctl: 1 of 2 did not reach their goal: broken (import_failed)\n" {
		t.Errorf("restart --force broken db: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A profile switch waits for what leaves and what joins it.
	if out := ctlOK(t, dir, "profile", "small"); !sameLines(out, "app: stopped\njob: done\nstubborn: stopped\n") {
		t.Errorf("profile small printed %q", out)
	}

	// --no-block returns at once, printing nothing.
	os.Remove(filepath.Join(dir, "ready"))
	if out := ctlOK(t, dir, "restart", "--no-block", "db"); out != "" {
		t.Errorf("restart --no-block printed %q", out)
	}
	if s := state("db"); s == "running" {
		t.Errorf("db right after restart --no-block is running, want on its way (not ready)")
	}
}

// sameLines reports whether a and b hold the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}
