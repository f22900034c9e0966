package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// node is the config of the integration tests. Each daemon writes its pid
// to <name>.pid, and the ones that trap SIGTERM append their name to
// "stops" when they stop, so the test sees the order.
const node = `
[supervisor]
log_dir = "logs"
stop_timeout = "5s"
backoff_min = "300ms"

[profiles]
full = ["router", "worker", "solo", "stubborn", "forker"]
minimal = ["worker"]

[daemons.router]
command = "trap 'echo router >> stops; exit 0' TERM; echo $$ > router.pid; echo router up; while :; do sleep 0.05; done"

[daemons.worker]
command = "trap 'echo worker >> stops; exit 0' TERM; echo $$ > worker.pid; while :; do sleep 0.05; done"
depends_on = ["router"]

[daemons.solo]
command = "echo $$ > solo.pid; exec sleep 1000"

[daemons.stubborn]
command = "trap '' TERM; echo $$ > stubborn.pid; while :; do sleep 0.05; done"
stop_timeout = "1s"

[daemons.forker]
command = "sleep 1000 & echo $! > grandchild.pid; echo $$ > forker.pid; wait"
`

func writeNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(node), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProfileMinimalStartsOnlyItsClosure(t *testing.T) {
	dir := writeNode(t)
	r := startRingsup(t, dir, "--profile", "minimal")
	router := readPID(t, filepath.Join(dir, "router.pid"))
	worker := readPID(t, filepath.Join(dir, "worker.pid"))
	// Give the others every chance to (wrongly) appear: once worker runs,
	// start-up is over, and anything else would have been spawned with it.
	for _, name := range []string{"solo", "stubborn", "forker"} {
		if _, err := os.Stat(filepath.Join(dir, name+".pid")); err == nil {
			t.Errorf("%s started under --profile minimal", name)
		}
	}
	if processGone(router) || processGone(worker) {
		t.Fatalf("router %d or worker %d not running", router, worker)
	}
	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := r.wait(20 * time.Second); x.Code != 0 {
		t.Fatalf("ringsup exit = %v, want 0\n%s", x, r.output)
	}
}

func TestFullNodeLifecycle(t *testing.T) {
	dir := writeNode(t)
	r := startRingsup(t, dir, "--profile", "full", "--log-level", "debug")
	pids := map[string]int{}
	for _, name := range []string{"router", "worker", "solo", "stubborn", "forker", "grandchild"} {
		pids[name] = readPID(t, filepath.Join(dir, name+".pid"))
	}

	// SIGKILL of a daemon brings it back after its backoff, with a new pid.
	os.Remove(filepath.Join(dir, "solo.pid"))
	killed := time.Now()
	syscall.Kill(pids["solo"], syscall.SIGKILL)
	newSolo := readPID(t, filepath.Join(dir, "solo.pid"))
	if elapsed := time.Since(killed); elapsed < 300*time.Millisecond {
		t.Errorf("solo came back after %v, before its 300ms backoff", elapsed)
	}
	if newSolo == pids["solo"] {
		t.Fatalf("solo pid unchanged after SIGKILL: %d", newSolo)
	}
	pids["solo"] = newSolo

	// SIGTERM to ringsup stops everything, dependents first.
	stopAt := time.Now()
	syscall.Kill(r.pid, syscall.SIGTERM)
	x := r.wait(30 * time.Second)
	// stubborn had to be killed: the shutdown was not clean, and the exit
	// status and last line say so.
	if x.Code != 1 || !strings.HasSuffix(r.output.String(), "ringsup: unclean shutdown: killed after stop_timeout: stubborn\n") {
		t.Fatalf("ringsup exit = %v, want 1 and the unclean shutdown\n%s", x, r.output)
	}
	// stubborn ignores SIGTERM: it is killed after its 1s stop_timeout.
	if elapsed := time.Since(stopAt); elapsed < time.Second {
		t.Errorf("shutdown took %v, less than stubborn's stop_timeout", elapsed)
	}
	if !strings.Contains(r.output.String(), "event=DAEMON_STOPPED daemon=stubborn signal=SIGKILL") {
		t.Errorf("no SIGKILL in the log for stubborn:\n%s", r.output)
	}
	if out := r.output.String(); strings.LastIndex(out, "event=DAEMON_STOPPED") > strings.Index(out, "all daemons stopped") {
		t.Errorf("a stop logged after \"all daemons stopped\":\n%s", out)
	}
	stops, err := os.ReadFile(filepath.Join(dir, "stops"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(stops)); strings.Join(got, " ") != "worker router" {
		t.Errorf("stop order = %q, want worker before router", got)
	}
	for name, pid := range pids {
		if !processGone(pid) {
			t.Errorf("%s (pid %d) outlived ringsup", name, pid)
		}
	}
	// Daemon output lands in the log dir.
	if b, err := os.ReadFile(filepath.Join(dir, "logs", "router.log")); err != nil || !strings.HasPrefix(string(b), "router up\n") {
		t.Errorf("router log = %q, %v; want it to start with router's line", b, err)
	}
}

func TestSupervisorKilledTakesDaemonsWithIt(t *testing.T) {
	dir := writeNode(t)
	r := startRingsup(t, dir, "--profile", "minimal")
	router := readPID(t, filepath.Join(dir, "router.pid"))
	worker := readPID(t, filepath.Join(dir, "worker.pid"))
	syscall.Kill(r.pid, syscall.SIGKILL)
	eventually(t, 10*time.Second, "daemons die with ringsup", func() bool {
		return processGone(router) && processGone(worker)
	})
	// They were re-parented to us, the subreaper: reap them and ringsup.
	eventually(t, 10*time.Second, "every child reaped", func() bool {
		procexec.Reap()
		return len(childrenOf(os.Getpid())) == 0
	})
}
