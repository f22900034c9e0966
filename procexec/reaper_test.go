package procexec

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReaperReapsAsTheyDie: a Reaper reaps processes as they die, without
// the caller reaping, announces them, and Take hands each exit over once,
// with its signal, at most max at a time; after Stop it reaps nothing.
func TestReaperReapsAsTheyDie(t *testing.T) {
	const n = 20
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = helperSpec("sleep")
	}
	procs, errs := testSpawner.SpawnAll(specs)
	want := map[int]bool{}
	for i, p := range procs {
		if errs[i] != nil {
			t.Fatalf("SpawnAll: spec %d: %v", i, errs[i])
		}
		want[p.PID] = true
		takenProcs.Store(p, true)
		t.Cleanup(func() { p.Signal(syscall.SIGKILL) })
	}
	notified := make(chan struct{}, 1)
	r := StartReaper(func() {
		select {
		case notified <- struct{}{}:
		default:
		}
	})
	stopped := false
	defer func() {
		if !stopped {
			r.Stop()
		}
	}()
	for _, p := range procs {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	// Every one is reaped by the Reaper: none is left to waitid.
	for _, p := range procs {
		pollUntil(t, fmt.Sprintf("PID %d reaped by the Reaper", p.PID), func() bool {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, p.PID, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
			return err == unix.ECHILD
		})
	}
	select {
	case <-notified:
	case <-time.After(waitTimeout):
		t.Fatal("the Reaper reaped and did not announce it")
	}
	got := map[int]Exit{}
	first, err := r.Take(1)
	if err != nil || len(first) != 1 {
		t.Fatalf("Take(1) = %v, %v; want one exit", first, err)
	}
	rest, err := r.Take(0)
	if err != nil {
		t.Fatalf("Take(0) = %v", err)
	}
	for _, e := range append(first, rest...) {
		if !want[e.PID] {
			exitsMu.Lock()
			exitsFor[e.PID] = e // another test's
			exitsMu.Unlock()
			continue
		}
		if _, dup := got[e.PID]; dup {
			t.Errorf("Take returned the exit of %d twice", e.PID)
		}
		got[e.PID] = e
	}
	for pid := range want {
		if e, ok := got[pid]; !ok {
			t.Errorf("exit of %d not returned by Take", pid)
		} else if e.Signal != syscall.SIGTERM {
			t.Errorf("exit of %d = %v, want killed by SIGTERM", pid, e)
		}
	}
	if again, _ := r.Take(0); len(again) != 0 {
		t.Errorf("Take(0) after every exit was taken = %v, want none", again)
	}

	// Once stopped, it leaves exits alone.
	r.Stop()
	stopped = true
	since := time.Now()
	p := start(t, testSpawner, helperSpec("exit", "3"))
	pollUntil(t, fmt.Sprintf("PID %d can be reaped", p.PID), func() bool {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, p.PID, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil); err != nil {
			t.Fatalf("waitid(%d) = %v: reaped after the Reaper stopped", p.PID, err)
		}
		return info.Signo != 0
	})
	takenProcs.Store(p, true)
	if e := waitExit(t, p.PID, since); e.Code != 3 {
		t.Errorf("exit after Stop = %v, want status 3", e)
	}
}
