package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// TestPID1 runs ringsup as PID 1 of a new PID namespace, as in a
// container: an orphan that lands on it from outside its own tree (here
// from `nsenter`, as from `docker exec`) is reaped, SIGTERM shuts down
// cleanly with exit 0, the daemons' output is echoed on its standard
// output (not a terminal), and nothing is left.
func TestPID1(t *testing.T) {
	quickRaceExit(t)
	if os.Geteuid() != 0 {
		t.Skip("a new PID namespace needs root (unshare --pid)")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ringsup.toml"), `
[daemons.web]
command = "trap 'echo web >> stops; exit 0' TERM; echo web says hello; while :; do sleep 0.05; done"
stop_timeout = "5s"
`)
	out := &syncBuffer{}
	unshare, err := spawner().Spawn(procexec.Spec{
		Argv:   []string{"unshare", "--pid", "--fork", "--mount-proc", os.Args[0], "--config", "ringsup.toml"},
		Dir:    dir,
		Env:    map[string]string{"RINGSUP_TEST_AS_MAIN": "1"},
		Output: out,
	})
	if errors.As(err, new(*procexec.ExecError)) {
		t.Skipf("cannot run unshare (util-linux): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// ringsup is unshare's child, PID 1 inside.
	var sup int
	eventually(t, 20*time.Second, "ringsup runs in its namespace", func() bool {
		if processGone(unshare.PID) {
			// As in a container without CAP_SYS_ADMIN.
			x := waitExit(t, unshare.PID, 10*time.Second)
			<-unshare.OutputDone()
			if strings.HasPrefix(out.String(), "unshare: ") {
				t.Skipf("cannot make a PID namespace here: %s", strings.TrimSpace(out.String()))
			}
			t.Fatalf("unshare ringsup: %v\n%s", x, out)
		}
		kids := childrenOf(unshare.PID)
		if len(kids) == 1 {
			sup = kids[0]
		}
		return sup != 0
	})
	waitListeningSock(t, filepath.Join(dir, "ringsup.sock"))
	if ns := nsPID(t, sup); ns != 1 {
		t.Fatalf("ringsup is pid %d in its namespace, want 1", ns)
	}

	// An orphan from outside ringsup's tree lands on PID 1.
	enterOut := &syncBuffer{}
	enter, err := spawner().Spawn(procexec.Spec{
		Argv:   []string{"nsenter", "--target", strconv.Itoa(sup), "--pid", "sh", "-c", "sleep 0.5 & exit 0"},
		Output: enterOut,
	})
	if err != nil {
		t.Fatalf("nsenter: %v", err)
	}
	if x := waitExit(t, enter.PID, 20*time.Second); x.Code != 0 {
		t.Fatalf("nsenter: %v\n%s", x, enterOut)
	}
	var orphan int
	eventually(t, 10*time.Second, "the orphan is ringsup's child", func() bool {
		for _, pid := range childrenOf(sup) {
			if comm(pid) == "sleep" {
				orphan = pid
				return true
			}
		}
		return false
	})
	// Reaped once it exits: not left as a zombie.
	eventually(t, 20*time.Second, "the orphan is reaped", func() bool { return procState(orphan) == 0 })

	if err := syscall.Kill(sup, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if x := waitExit(t, unshare.PID, 30*time.Second); x.Code != 0 {
		t.Errorf("ringsup as PID 1 exit = %v, want 0 after a clean shutdown\n%s", x, out)
	}
	<-unshare.OutputDone()
	if b, _ := os.ReadFile(filepath.Join(dir, "stops")); string(b) != "web\n" {
		t.Errorf("web's stop: %q, want it to have got SIGTERM", b)
	}
	if !strings.Contains(out.String(), "web says hello") {
		t.Errorf("PID 1 did not echo the daemons' output:\n%s", out)
	}
	checkNoChildren(t)
}

// nsPID returns the pid of pid in its own (innermost) PID namespace.
func nsPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := strings.Fields(string(v))
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	t.Fatal("no NSpid line")
	return 0
}

// comm returns the command name of pid.
func comm(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return strings.TrimSpace(string(b))
}
