package supervisor

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/testproc"
	"github.com/ringrift/ringsup/procexec"
)

// TestOSRuntimeReapsWatchedAndOrphans: with the pidfd watcher, the exit of
// a started process is announced and reaped at once, and an adopted
// orphan's, which no pidfd reports, is still reaped: by the walk, put off
// by at most walkDelay after a watched exit.
func TestOSRuntimeReapsWatchedAndOrphans(t *testing.T) {
	rt := newWatchedRuntime(t)
	out := testproc.NewOutput()
	// The parent prints its grandchild's PID and exits: the grandchild is
	// orphaned to us, the subreaper.
	parent, err := rt.Spawn(procexec.Spec{Name: "parent", Argv: []string{"/bin/sh", "-c", "sleep 1000 & echo $!"}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := rt.Spawn(procexec.Spec{Name: "daemon", Argv: []string{"/bin/sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	reaped := map[int]procexec.Exit{}
	reapUntil := func(what string, done func() bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !done() {
			select {
			case <-rt.Exited():
			case <-time.After(10 * time.Millisecond): // the parent's output may trail its exit
			case <-deadline:
				t.Fatalf("timed out waiting until %s; reaped %v", what, reaped)
			}
			exits, err := rt.Reap(0)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range exits {
				reaped[x.PID] = x
			}
		}
	}
	var orphan int
	reapUntil("the parent exits and prints its child", func() bool {
		orphan, _ = strconv.Atoi(strings.TrimSpace(out.String()))
		_, ok := reaped[parent]
		return ok && orphan > 0
	})
	t.Cleanup(func() { syscall.Kill(orphan, syscall.SIGKILL) })

	// A watched exit first, then the orphan's: the walk the first put off
	// finds the second.
	syscall.Kill(daemon, syscall.SIGKILL)
	reapUntil("the daemon's exit is reaped", func() bool { _, ok := reaped[daemon]; return ok })
	if x := reaped[daemon]; x.Signal != syscall.SIGKILL {
		t.Errorf("daemon's exit = %v, want signal SIGKILL", x)
	}
	syscall.Kill(orphan, syscall.SIGKILL)
	reapUntil("the orphan's exit is reaped", func() bool { _, ok := reaped[orphan]; return ok })
	if n := rt.watcher.Watching(); n != 0 {
		t.Errorf("Watching() = %d after every exit, want 0", n)
	}
}

// TestOSRuntimeStopAllReapsEveryExit: once StopAll has closed the pidfd
// watcher, every exit is still reaped, by the walk: one the watcher had
// reported and nobody reaped yet, those after it, and that of a process
// started after it (a stop hook).
func TestOSRuntimeStopAllReapsEveryExit(t *testing.T) {
	rt := newWatchedRuntime(t)
	var pids []int
	for range 10 {
		pid, err := rt.Spawn(procexec.Spec{Name: "daemon", Argv: []string{"/bin/sleep", "1000"}})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	}
	// The first exits and its pidfd reports it, but it is not reaped
	// before the watcher is closed.
	syscall.Kill(pids[0], syscall.SIGKILL)
	select {
	case <-rt.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("no exit announced after SIGKILL")
	}
	rt.StopAll()
	if rt.watcher != nil {
		t.Fatal("StopAll() left the pidfd watcher on")
	}
	hook, err := rt.Spawn(procexec.Spec{Name: "hook", Argv: []string{"/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids[1:] {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	want := append([]int{hook}, pids...)
	reaped := map[int]procexec.Exit{}
	deadline := time.After(10 * time.Second)
	for len(reaped) < len(want) {
		exits, err := rt.Reap(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range exits {
			reaped[x.PID] = x
		}
		if len(reaped) == len(want) {
			break
		}
		select {
		case <-rt.Exited():
		case <-deadline:
			t.Fatalf("reaped %d of %d exits after StopAll: %v, want %v", len(reaped), len(want), reaped, want)
		}
	}
	for _, pid := range want {
		if _, ok := reaped[pid]; !ok {
			t.Errorf("exit of %d not reaped after StopAll; reaped %v", pid, reaped)
		}
	}
}

// newWatchedRuntime returns an osRuntime with its pidfd watcher, closed
// at the end of the test.
func newWatchedRuntime(t *testing.T) *osRuntime {
	t.Helper()
	rt, err := newOSRuntime(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	if rt.watcher == nil {
		t.Fatal("newOSRuntime has no pidfd watcher; this kernel (Linux >= 5.3) has pidfds")
	}
	return rt
}
