package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// ctlNode is the config of the ctl tests. router and worker append their
// name to "stops" when they get SIGTERM, so a test sees the stop order;
// broken cannot be executed; quiet is outside the profile.
const ctlNode = `
[supervisor]
log_dir = "logs"
stop_timeout = "5s"
default_profile = "full"

[profiles]
full = ["router", "worker", "broken"]

[daemons.router]
command = "trap 'echo router >> stops; exit 0' TERM; echo $$ > router.pid; echo router up; while :; do sleep 0.05; done"

[daemons.worker]
command = "trap 'echo worker >> stops; exit 0' TERM; echo $$ > worker.pid; while :; do sleep 0.05; done"
depends_on = ["router"]

[daemons.broken]
command = ["./no-such-program"]

[daemons.quiet]
command = ["sleep", "1000"]
`

// quickRaceExit makes the processes a test starts exit at once under the
// race detector, which otherwise waits a second at exit for late reports.
func quickRaceExit(t testing.TB) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// writeCtlNode writes ctlNode to dir/ringsup.toml, in a new directory when
// dir is "".
func writeCtlNode(t testing.TB, dir string) string {
	t.Helper()
	quickRaceExit(t)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(ctlNode), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reaped holds the exits collected by reapPID, so that reaping one process
// never loses the exit of another.
var reaped = struct {
	sync.Mutex
	exits map[int]procexec.Exit
}{exits: map[int]procexec.Exit{}}

// waitExit waits for the child pid to exit and reaps it.
func waitExit(t testing.TB, pid int, timeout time.Duration) procexec.Exit {
	t.Helper()
	var x procexec.Exit
	eventually(t, timeout, "process exits", func() bool {
		reaped.Lock()
		defer reaped.Unlock()
		exits, _ := procexec.Reap()
		for _, e := range exits {
			reaped.exits[e.PID] = e
		}
		var ok bool
		if x, ok = reaped.exits[pid]; ok {
			delete(reaped.exits, pid)
		}
		return ok
	})
	return x
}

// stopRingsup stops a ringsup with SIGTERM, checks that it exits 0 and
// that it leaves no process behind.
func stopRingsup(t testing.TB, r *ringsupProc) {
	t.Helper()
	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := waitExit(t, r.pid, 30*time.Second); x.Code != 0 {
		t.Errorf("ringsup exit = %v, want 0\n%s", x, r.output)
	}
	checkNoChildren(t)
}

// checkNoChildren checks that no child of the test is left: every ctl
// process reaped, every daemon gone with its supervisor.
func checkNoChildren(t testing.TB) {
	t.Helper()
	eventually(t, 10*time.Second, "no child left", func() bool {
		waitExitsPending()
		return len(childrenOf(os.Getpid())) == 0
	})
}

// waitExitsPending reaps what has exited, keeping the exits for waitExit.
func waitExitsPending() {
	reaped.Lock()
	defer reaped.Unlock()
	exits, _ := procexec.Reap()
	for _, e := range exits {
		reaped.exits[e.PID] = e
	}
}

// ctlProc is a `ringsup ctl` process started by a test.
type ctlProc struct {
	pid     int
	proc    *procexec.Proc
	stdout  *syncBuffer
	errFile string
}

// startCtl runs `ringsup ctl args...` in dir as a separate process, with
// standard output and standard error kept apart.
func startCtl(t testing.TB, dir string, args ...string) *ctlProc {
	t.Helper()
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	errFile.Close()
	out := &syncBuffer{}
	argv := append([]string{"/bin/sh", "-c", `exec "$0" "$@" 2>"$RINGSUP_TEST_STDERR"`, os.Args[0], "ctl"}, args...)
	p, err := spawner().Spawn(procexec.Spec{
		Argv:   argv,
		Dir:    dir,
		Env:    map[string]string{"RINGSUP_TEST_AS_MAIN": "1", "RINGSUP_TEST_STDERR": errFile.Name()},
		Output: out,
	})
	if err != nil {
		t.Fatalf("cannot start ringsup ctl: %v", err)
	}
	c := &ctlProc{pid: p.PID, proc: p, stdout: out, errFile: errFile.Name()}
	t.Cleanup(func() {
		if !processGone(c.pid) {
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
		if procState(c.pid) != 0 {
			waitExit(t, c.pid, 10*time.Second)
		}
	})
	return c
}

// wait waits for the process to exit and returns its output and exit
// status: the exit code, or 128 + the signal that killed it.
func (c *ctlProc) wait(t testing.TB, timeout time.Duration) (stdout, stderr string, code int) {
	t.Helper()
	x := waitExit(t, c.pid, timeout)
	select {
	case <-c.proc.OutputDone():
	case <-time.After(timeout):
		t.Fatal("the output of ringsup ctl did not end")
	}
	b, err := os.ReadFile(c.errFile)
	if err != nil {
		t.Fatal(err)
	}
	code = x.Code
	if x.Signal != 0 {
		code = 128 + int(x.Signal)
	}
	return c.stdout.String(), string(b), code
}

// ctl runs `ringsup ctl args...` in dir and returns its stdout, stderr and
// exit status.
func ctl(t testing.TB, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return startCtl(t, dir, args...).wait(t, 30*time.Second)
}

// ctlOK runs `ringsup ctl args...` and fails the test unless it succeeds
// with nothing on stderr.
func ctlOK(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := ctl(t, dir, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("ringsup ctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// ctlFails runs `ringsup ctl args...` and checks that it exits 1 with
// exactly one line on stderr, which it returns.
func ctlFails(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := ctl(t, dir, args...)
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "ringsup ctl: ") {
		t.Errorf("ringsup ctl %s: exit %d, stderr %q; want exit 1 and one line", strings.Join(args, " "), code, errOut)
	}
	if out != "" {
		t.Errorf("ringsup ctl %s: stdout %q, want nothing", strings.Join(args, " "), out)
	}
	return strings.TrimSuffix(errOut, "\n")
}

// ctlEventsToTheEnd waits for a `ctl events` to end with its stream (the
// supervisor gone), checks that it exited 0 with nothing on stderr, and
// returns its output and its events, decoded.
func ctlEventsToTheEnd(t testing.TB, ev *ctlProc) (stdout string, events []map[string]any) {
	t.Helper()
	stdout, stderr, code := ev.wait(t, 10*time.Second)
	if code != 0 || stderr != "" {
		t.Errorf("ctl events after the shutdown: exit %d, stderr %q; want 0", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return stdout, events
}
