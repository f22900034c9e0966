package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// tmux is a tmux server of the test's own, on a private socket, so that
// tests never meet another tmux.
type tmux struct {
	t    *testing.T
	bin  string
	sock string
}

// startTmux starts a tmux server whose first window, 80x24, runs shell in
// dir. It skips the test when tmux is not installed (.ci/run installs it).
func startTmux(t *testing.T, dir, shell string) *tmux {
	t.Helper()
	var bin string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if fi, err := os.Stat(filepath.Join(d, "tmux")); err == nil && !fi.IsDir() {
			bin = filepath.Join(d, "tmux")
			break
		}
	}
	if bin == "" {
		t.Skip("tmux is not installed (.ci/run installs it): cannot run ctl top in a terminal")
	}
	// A short path: unix socket paths are short.
	sockDir, err := os.MkdirTemp("", "tmux")
	if err != nil {
		t.Fatal(err)
	}
	tm := &tmux{t: t, bin: bin, sock: filepath.Join(sockDir, "s")}
	t.Cleanup(func() {
		tm.run("kill-server")
		os.RemoveAll(sockDir)
	})
	tm.run("new-session", "-d", "-x", "80", "-y", "24", "-c", dir, shell)
	return tm
}

// run runs a tmux command and returns its output.
func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out := &syncBuffer{}
	p, err := spawner().Spawn(procexec.Spec{
		Argv:   append([]string{tm.bin, "-S", tm.sock}, args...),
		Env:    map[string]string{"TERM": "xterm-256color"},
		Output: out,
	})
	if err != nil {
		tm.t.Fatalf("cannot run tmux: %v", err)
	}
	waitExit(tm.t, p.PID, 30*time.Second)
	<-p.OutputDone()
	return out.String()
}

// keys types keys into the window, one send-keys each: a lone Esc followed
// at once by a key would read as Alt+key.
func (tm *tmux) keys(window string, keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		tm.run("send-keys", "-t", window, k)
	}
}

// screen returns the text of the window; with escapes, its colours too.
func (tm *tmux) screen(window string, escapes bool) string {
	tm.t.Helper()
	args := []string{"capture-pane", "-p", "-t", window}
	if escapes {
		args = append(args, "-e")
	}
	return tm.run(args...)
}

// waitScreen waits until the window shows every string of want, and
// returns the screen.
func (tm *tmux) waitScreen(window string, want ...string) string {
	tm.t.Helper()
	return tm.waitFor(window, fmt.Sprintf("%q", want), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// waitFor waits until the text of the window satisfies ok, and returns
// it; what says what is awaited.
func (tm *tmux) waitFor(window, what string, ok func(screen string) bool) string {
	tm.t.Helper()
	var s string
	deadline := time.Now().Add(30 * time.Second)
	for {
		s = tm.screen(window, false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen does not show %s after 30s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// topShell is the shell line of a tmux window that runs `ringsup ctl top`
// and then says how it exited.
func topShell(env string) string {
	return fmt.Sprintf(`env RINGSUP_TEST_AS_MAIN=1 GORACE=atexit_sleep_ms=0 %s %q ctl top; echo "top exited $?"; exec sleep 3600`, env, os.Args[0])
}

// colour matches an SGR sequence that sets a foreground colour.
var colour = regexp.MustCompile(`\x1b\[([0-9;]*;)?(3[0-8]|9[0-7])(;[0-9;]*)?m`)

// TestCtlTopInTerminal runs `ringsup ctl top` in a real terminal (tmux)
// against a real supervisor: it shows the daemons, restarts one from the
// keyboard (the daemon gets a new pid), colours its states unless NO_COLOR
// is set, and exits cleanly when the supervisor stops.
func TestCtlTopInTerminal(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	tm := startTmux(t, dir, topShell(""))
	s := tm.waitScreen(":0", "router", "worker", fmt.Sprint(pids["worker"]), "import_failed", "r/R:restart")
	if !strings.Contains(s, "config "+filepath.Join(dir, "ringsup.toml")) {
		t.Errorf("the header lacks the config:\n%s", s)
	}
	if !colour.MatchString(tm.screen(":0", true)) {
		t.Errorf("no colour on the screen:\n%q", tm.screen(":0", true))
	}

	// Select worker with the filter, and restart it.
	tm.keys(":0", "/", "w", "o", "r", "k", "Enter")
	tm.waitScreen(":0", "filter /work")
	tm.keys(":0", "r")
	tm.waitScreen(":0", "restart worker? y to confirm")
	tm.keys(":0", "y")
	s = tm.waitScreen(":0", "restart worker: running, pid ")
	m := regexp.MustCompile(`restart worker: running, pid (\d+)`).FindStringSubmatch(s)
	newPID := readPID(t, filepath.Join(dir, "worker.pid"))
	if m == nil || m[1] != fmt.Sprint(newPID) || newPID == pids["worker"] {
		t.Errorf("after the restart: worker.pid %d (was %d); the view says:\n%s", newPID, pids["worker"], s)
	}
	if st := ctlStatus(t, dir, "worker"); daemonField(st, "worker", "pid") != float64(newPID) {
		t.Errorf("ctl status: worker pid %v, want %d", daemonField(st, "worker", "pid"), newPID)
	}
	if !regexp.MustCompile(fmt.Sprintf(`> worker +running +%d`, newPID)).MatchString(s) {
		t.Errorf("the table does not show worker's new pid %d:\n%s", newPID, s)
	}

	// NO_COLOR: the same view without a colour; q quits with status 0.
	tm.run("new-window", "-t", ":1", "-c", dir, topShell("NO_COLOR=1"))
	tm.waitScreen(":1", "router", "worker", "r/R:restart")
	if esc := tm.screen(":1", true); colour.MatchString(esc) {
		t.Errorf("NO_COLOR is set, yet colours:\n%q", esc)
	}
	tm.keys(":1", "q")
	tm.waitScreen(":1", "top exited 0")

	// The supervisor goes away: the view says so and exits 0, leaving the
	// terminal as it was.
	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := waitExit(t, r.pid, 30*time.Second); x.Code != 0 {
		t.Errorf("ringsup exit = %v, want 0\n%s", x, r.output)
	}
	s = tm.waitScreen(":0", "ringsup ctl top: the supervisor shut down", "top exited 0")
	if strings.Contains(s, "NAME") {
		t.Errorf("the view was left on the screen:\n%s", s)
	}
	// The tmux server is a child of this process, the subreaper.
	tm.run("kill-server")
	checkNoChildren(t)
}

// TestCtlTopNeedsTerminal: with stdout not a terminal, ctl top says so in
// one line and exits 1.
func TestCtlTopNeedsTerminal(t *testing.T) {
	dir, r, _ := startCtlNode(t)
	defer stopRingsup(t, r)
	msg := ctlFails(t, dir, "top")
	if want := "ringsup ctl: top needs a terminal (for scripts: ctl status --json, ctl events)"; msg != want {
		t.Errorf("ctl top on a pipe: %q, want %q", msg, want)
	}
	if msg := ctlFails(t, dir, "top", "worker"); msg != `ringsup ctl: top takes no names (have "worker"): / in the view filters by name` {
		t.Errorf("ctl top worker: %q", msg)
	}
}
