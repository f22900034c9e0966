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
	rt, err := newOSRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if rt.watcher == nil {
		t.Fatal("newOSRuntime has no pidfd watcher; this kernel (Linux >= 5.3) has pidfds")
	}
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
