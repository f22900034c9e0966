package procexec

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestExitCode(t *testing.T) {
	p := start(t, testSpawner, helperSpec("exit", "3"))
	e := waitProc(t, p)
	if e.PID != p.PID || e.Code != 3 || e.Signal != 0 || e.Success() {
		t.Errorf("exit of `exit 3` = %+v, want Code 3, Signal 0", e)
	}
	if got, want := e.String(), "exit status 3"; got != want {
		t.Errorf("Exit.String() = %q, want %q", got, want)
	}
}

func TestSignalKill(t *testing.T) {
	p := start(t, testSpawner, helperSpec("sleep"))
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	e := waitProc(t, p)
	if e.Code != -1 || e.Signal != syscall.SIGKILL || e.Success() {
		t.Errorf("exit after SIGKILL = %+v, want Code -1, Signal SIGKILL", e)
	}
	if got, want := e.String(), "signal SIGKILL"; got != want {
		t.Errorf("Exit.String() = %q, want %q", got, want)
	}
	// Reaped and alone in its group: the group is gone.
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Signal after reaping = %v, want ErrNoProcess", err)
	}
	if err := SignalGroup(p.PID, 0); !errors.Is(err, ErrNoProcess) {
		t.Errorf("SignalGroup(%d, 0) after reaping = %v, want ErrNoProcess", p.PID, err)
	} else if want := fmt.Sprintf("cannot signal process group %d: no such process", p.PID); err.Error() != want {
		t.Errorf("SignalGroup(%d, 0) after reaping = %q, want %q", p.PID, err, want)
	}
}

func TestSignalIgnoredTerm(t *testing.T) {
	out := newOutput()
	spec := helperSpec("ignore-sigterm")
	spec.Output = out
	p := start(t, testSpawner, spec)
	out.WaitFor(t, "ready\n")
	// An ignored signal is dropped when sent, so the SIGKILL that follows
	// is what ends the process.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM) = %v", err)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	if e := waitProc(t, p); e.Signal != syscall.SIGKILL {
		t.Errorf("exit of ignore-sigterm after SIGTERM, SIGKILL = %v, want signal SIGKILL", e)
	}
}

func TestSignalGroupRefusesSpecialGroups(t *testing.T) {
	for _, pgid := range []int{-5, 0, 1} {
		err := SignalGroup(pgid, 0)
		if err == nil || errors.Is(err, ErrNoProcess) {
			t.Errorf("SignalGroup(%d, 0) = %v, want an invalid group error", pgid, err)
		}
	}
}

func TestProcessGroupLeader(t *testing.T) {
	p := start(t, testSpawner, helperSpec("sleep"))
	pgid, err := unix.Getpgid(p.PID)
	if err != nil {
		t.Fatalf("Getpgid(%d) = %v", p.PID, err)
	}
	if pgid != p.PID {
		t.Errorf("Getpgid(%d) = %d, want %d (its own group)", p.PID, pgid, p.PID)
	}
}

func TestGroupKillReachesGrandchildren(t *testing.T) {
	out := newOutput()
	spec := helperSpec("spawn-grandchild")
	spec.Output = out
	p := start(t, testSpawner, spec)
	since := time.Now()
	gpid := waitPID(t, out, "grandchild")
	if got, err := unix.Getpgid(gpid); err != nil || got != p.PID {
		t.Fatalf("Getpgid(grandchild %d) = %d, %v; want %d", gpid, got, err, p.PID)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	if e := waitProc(t, p); e.Signal != syscall.SIGKILL {
		t.Errorf("exit of the child = %v, want signal SIGKILL", e)
	}
	// The grandchild is orphaned to the test process (a subreaper): Reap
	// collects it and no zombie is left.
	if e := waitExit(t, gpid, since); e.Signal != syscall.SIGKILL {
		t.Errorf("exit of the grandchild = %v, want signal SIGKILL", e)
	}
	if s := procState(gpid); s != 0 {
		t.Errorf("grandchild %d still in /proc after Reap (state %c)", gpid, s)
	}
	waitDone(t, p)
}

func TestEarlyExitNotLost(t *testing.T) {
	p := start(t, testSpawner, helperSpec("exit", "0"))
	// Regression: an exit that happens before anyone reaps must wait as a
	// zombie, not be lost to a waiter that was not yet listening.
	// Wait until the exit can be collected, without collecting it (a 'Z'
	// in /proc is not enough: a leader waits for its other threads).
	pollUntil(t, fmt.Sprintf("PID %d can be reaped", p.PID), func() bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, p.PID, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
		if err != nil {
			t.Fatalf("waitid(%d) = %v", p.PID, err)
		}
		return info.Signo != 0
	})
	exits, err := Reap()
	if err != nil {
		t.Fatalf("Reap() = %v", err)
	}
	var found bool
	for _, e := range exits {
		if e.PID == p.PID {
			found = true
			if !e.Success() {
				t.Errorf("exit of `exit 0` = %v, want exit status 0", e)
			}
		}
		exitsMu.Lock()
		if e.PID != p.PID {
			exitsFor[e.PID] = e // another test's
		}
		exitsMu.Unlock()
	}
	if !found {
		t.Fatalf("Reap() = %v, want the exit of PID %d", exits, p.PID)
	}
	takenProcs.Store(p, true)
}

// TestReapUpTo: with three exits ready, ReapUpTo(1) takes one and leaves
// the others for the next call.
func TestReapUpTo(t *testing.T) {
	procs, errs := testSpawner.SpawnAll([]Spec{helperSpec("exit", "0"), helperSpec("exit", "1"), helperSpec("exit", "2")})
	pids := map[int]bool{}
	for i, p := range procs {
		if errs[i] != nil {
			t.Fatalf("SpawnAll: spec %d: %v", i, errs[i])
		}
		pids[p.PID] = true
		pollUntil(t, fmt.Sprintf("PID %d can be reaped", p.PID), func() bool {
			var info unix.Siginfo
			if err := unix.Waitid(unix.P_PID, p.PID, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil); err != nil {
				t.Fatalf("waitid(%d) = %v", p.PID, err)
			}
			return info.Signo != 0
		})
		takenProcs.Store(p, true)
	}
	// Other tests' exits may be ready as well: ReapUpTo takes them first
	// or later, in any order; what counts is one exit per call of max 1.
	var got []Exit
	for range 10 {
		exits, err := ReapUpTo(1)
		if err != nil || len(exits) > 1 {
			t.Fatalf("ReapUpTo(1) = %v, %v; want at most one exit", exits, err)
		}
		got = append(got, exits...)
		if len(exits) == 0 {
			break
		}
	}
	exits, err := ReapUpTo(0)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, exits...)
	seen := 0
	for _, e := range got {
		if pids[e.PID] {
			seen++
			continue
		}
		exitsMu.Lock()
		exitsFor[e.PID] = e // another test's
		exitsMu.Unlock()
	}
	if seen != 3 {
		t.Errorf("reaped %d of the 3 exits, one at a time: %v", seen, got)
	}
}

func TestReapWithoutChildren(t *testing.T) {
	collect(t)
	exits, err := Reap()
	if err != nil || len(exits) != 0 {
		t.Errorf("Reap() with nothing exited = %v, %v; want none, nil", exits, err)
	}
}

func TestSetSubreaper(t *testing.T) {
	if err := SetSubreaper(); err != nil {
		t.Fatalf("SetSubreaper() = %v", err)
	}
	var on int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&on)), 0, 0, 0); err != nil {
		t.Fatalf("PR_GET_CHILD_SUBREAPER: %v", err)
	}
	if on != 1 {
		t.Errorf("PR_GET_CHILD_SUBREAPER = %d, want 1", on)
	}
}

func TestExecErrors(t *testing.T) {
	dir := t.TempDir()
	noExec := filepath.Join(dir, "no-x-bit")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 this is not a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	badInterp := filepath.Join(dir, "bad-interpreter")
	if err := os.WriteFile(badInterp, []byte("#!/nonexistent/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		spec Spec
		kind ExecErrorKind
	}{
		{"missing file", Spec{Argv: []string{filepath.Join(dir, "missing")}}, ExecNotFound},
		{"missing relative to Dir", Spec{Argv: []string{"./missing"}, Dir: dir}, ExecNotFound},
		{"not in PATH", Spec{Argv: []string{"ringsup-no-such-command"}}, ExecNotFound},
		{"missing interpreter", Spec{Argv: []string{badInterp}}, ExecNotFound},
		{"no x bit", Spec{Argv: []string{noExec}}, ExecPermission},
		{"directory", Spec{Argv: []string{dir}}, ExecPermission},
		{"no shebang", Spec{Argv: []string{garbage}}, ExecNotExecutable},
		{"missing Dir", Spec{Argv: []string{"/bin/true"}, Dir: filepath.Join(dir, "nope")}, ExecBadDir},
		{"Dir is a file", Spec{Argv: []string{"/bin/true"}, Dir: garbage}, ExecBadDir},
		{"empty Argv", Spec{}, ExecNotFound},
		{"bad Env", Spec{Argv: []string{"/bin/true"}, Env: map[string]string{"A=B": "x"}}, ExecOther},
		{"unknown user", Spec{Argv: []string{"/bin/true"}, User: "ringsup-no-such-user"}, ExecBadUser},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := testSpawner.Spawn(tt.spec)
			var ee *ExecError
			if !errors.As(err, &ee) {
				if p != nil {
					p.Signal(syscall.SIGKILL)
				}
				t.Fatalf("Spawn(%q) = %v, want an *ExecError", tt.spec.Argv, err)
			}
			if p != nil || ee.Kind != tt.kind {
				t.Errorf("Spawn(%q) = %v, %v (kind %d); want nil, kind %d %q", tt.spec.Argv, p, err, ee.Kind, tt.kind, tt.kind)
			}
			if !strings.HasPrefix(err.Error(), "cannot execute ") {
				t.Errorf("error %q does not start with %q", err, "cannot execute ")
			}
		})
	}
}

func TestExecErrorMessage(t *testing.T) {
	_, err := testSpawner.Spawn(Spec{Argv: []string{"./x"}, Dir: "/"})
	if got, want := fmt.Sprint(err), `cannot execute "./x": not found`; got != want {
		t.Errorf("Spawn(./x) error = %q, want %q", got, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false, want true", err)
	}
}

func TestSpawnerClosed(t *testing.T) {
	s := NewSpawner()
	s.Close()
	s.Close()
	if p, err := s.Spawn(helperSpec("sleep")); !errors.Is(err, ErrClosed) {
		if p != nil {
			p.Signal(syscall.SIGKILL)
		}
		t.Errorf("Spawn after Close = %v, want ErrClosed", err)
	}
}

// TestSpawnerCloseDuringSpawnAll: a Close while SpawnAll has requests
// queued for its threads lets it return, every spec started or refused
// with ErrClosed, and a Close before it makes it refuse them all.
func TestSpawnerCloseDuringSpawnAll(t *testing.T) {
	specs := make([]Spec, 200)
	for i := range specs {
		specs[i] = Spec{Name: "sleep" + strconv.Itoa(i), Argv: []string{"/bin/sleep", "3601"}}
	}
	for round := range 3 {
		s := NewSpawner()
		var procs []*Proc
		var errs []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			procs, errs = s.SpawnAll(specs)
		}()
		if round > 0 { // round 0: Close at once, most likely before any request
			pollUntil(t, "SpawnAll has forked", func() bool { return childRuns(t, "/bin/sleep\x003601\x00") })
		}
		s.Close()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatalf("round %d: SpawnAll did not return after Close", round)
		}
		started := 0
		for i := range specs {
			switch {
			case procs[i] != nil && errs[i] == nil:
				started++
				procs[i].Signal(syscall.SIGKILL)
				waitProc(t, procs[i])
			case procs[i] == nil && errors.Is(errs[i], ErrClosed):
			default:
				t.Errorf("round %d: spec %d: %v, %v; want a process or ErrClosed", round, i, procs[i], errs[i])
			}
		}
		t.Logf("round %d: %d of %d started before the Close", round, started, len(specs))
		if round > 0 && started == 0 {
			t.Errorf("round %d: none started, though the Close came after a fork", round)
		}
	}
}

// childRuns reports whether a child of some thread of the process runs
// the command line cmdline (its arguments each ended by a NUL).
func childRuns(t *testing.T, cmdline string) bool {
	t.Helper()
	lists, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		data, _ := os.ReadFile(l) // a thread may have ended
		for _, pid := range strings.Fields(string(data)) {
			if got, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && string(got) == cmdline {
				return true
			}
		}
	}
	return false
}

func TestEnv(t *testing.T) {
	t.Setenv("PROCEXEC_TEST_VAR", "inherited")
	t.Setenv("PROCEXEC_TEST_KEPT", "kept")
	out := newOutput()
	spec := helperSpec("print-env")
	spec.Name = "web"
	spec.Env["PROCEXEC_TEST_VAR"] = "override"
	spec.Env["RINGSUP_DAEMON"] = "not-the-name"
	spec.Output = out
	p := start(t, testSpawner, spec)
	waitProc(t, p)
	waitDone(t, p)
	env := out.String()
	for _, line := range []string{"PROCEXEC_TEST_VAR=override", "PROCEXEC_TEST_KEPT=kept", "RINGSUP_DAEMON=web"} {
		if n := countLines(env, line); n != 1 {
			t.Errorf("%q occurs %d times in the environment, want once:\n%s", line, n, env)
		}
	}
	for _, key := range []string{"PROCEXEC_TEST_VAR=", "RINGSUP_DAEMON="} {
		if n := strings.Count("\n"+env, "\n"+key); n != 1 {
			t.Errorf("%s set %d times, want once", strings.TrimSuffix(key, "="), n)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	for _, tt := range []struct {
		name  string
		base  []string
		extra map[string]string
		daem  string
		want  []string
	}{
		{"empty", nil, nil, "", []string{}},
		{"name only", []string{"A=1"}, nil, "x", []string{"A=1", "RINGSUP_DAEMON=x"}},
		{"override in place", []string{"A=1", "B=2"}, map[string]string{"A": "9"}, "", []string{"A=9", "B=2"}},
		{"sorted additions", nil, map[string]string{"Z": "1", "M": "2", "A": "3"}, "", []string{"A=3", "M=2", "Z=1"}},
		{"duplicates in base", []string{"A=1", "A=2", "B"}, nil, "", []string{"A=2", "B"}},
		{"name wins", []string{"RINGSUP_DAEMON=old"}, map[string]string{"RINGSUP_DAEMON": "env"}, "n", []string{"RINGSUP_DAEMON=n"}},
		{"empty value", []string{"A=1"}, map[string]string{"A": ""}, "", []string{"A="}},
	} {
		got, err := buildEnv(tt.base, tt.extra, tt.daem)
		if err != nil || strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
			t.Errorf("%s: buildEnv(%q, %v, %q) = %q, %v; want %q", tt.name, tt.base, tt.extra, tt.daem, got, err, tt.want)
		}
	}
	for _, extra := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"A\x00": "x"}, {"A": "x\x00y"}} {
		if _, err := buildEnv(nil, extra, ""); err == nil {
			t.Errorf("buildEnv(nil, %q, \"\") = nil error, want one", extra)
		}
	}
}

func TestUser(t *testing.T) {
	if os.Geteuid() != 0 {
		_, err := testSpawner.Spawn(Spec{Argv: []string{"id", "-u"}, User: "nobody"})
		var ee *ExecError
		if !errors.As(err, &ee) || ee.Kind != ExecBadUser || !strings.Contains(err.Error(), `cannot run as user "nobody": supervisor is not root`) {
			t.Errorf("Spawn as nobody when not root = %v, want ExecBadUser: supervisor is not root", err)
		}
		return
	}
	for _, user := range []string{"nobody", "65534"} {
		if _, err := credential(user); err != nil {
			t.Skipf("no user %s on this host: %v", user, err)
		}
		out := newOutput()
		p := start(t, testSpawner, Spec{Argv: []string{"sh", "-c", "id -u; id -g; id -G"}, User: user, Output: out})
		if e := waitProc(t, p); !e.Success() {
			t.Fatalf("id as %s: %v (output %q)", user, e, out.String())
		}
		waitDone(t, p)
		// nobody's groups: its primary group only (not root's).
		if got, want := out.String(), "65534\n65534\n65534\n"; got != want {
			t.Errorf("uid, gid and groups as user %q = %q, want %q", user, got, want)
		}
	}
	// A numeric uid unknown to the passwd database runs with gid = uid.
	out := newOutput()
	p := start(t, testSpawner, Spec{Argv: []string{"sh", "-c", "id -u; id -g; id -G"}, User: "54321", Output: out})
	waitProc(t, p)
	waitDone(t, p)
	if got, want := out.String(), "54321\n54321\n54321\n"; got != want {
		t.Errorf("uid, gid and groups as user 54321 = %q, want %q", got, want)
	}
}

func TestChildSurvivesThreadChurn(t *testing.T) {
	s := NewSpawner()
	defer s.Close()
	// Two processes in one call: one from each of the Spawner's threads.
	procs, errs := s.SpawnAll([]Spec{helperSpec("sleep"), helperSpec("sleep")})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("SpawnAll: spec %d: %v", i, err)
		}
	}

	// Regression (golang/go#27505): Pdeathsig fires when the thread that
	// forked exits. Spawn from goroutines whose threads then die, and
	// destroy many more threads.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			p, err := s.Spawn(helperSpec("sleep"))
			if err != nil {
				t.Errorf("Spawn: %v", err)
				return
			}
			mu.Lock()
			procs = append(procs, p)
			mu.Unlock()
		})
	}
	for range 50 {
		wg.Go(func() { runtime.LockOSThread() })
	}
	wg.Wait()
	for _, p := range procs {
		t.Cleanup(func() { p.Signal(syscall.SIGKILL); waitProc(t, p) })
	}

	// Control: a child forked by a thread that then exits does die, so
	// the threads above are gone by the time it has.
	ctl := forkFromDyingThread(t)
	if e := waitExit(t, ctl.pid, ctl.since); e.Signal != syscall.SIGKILL {
		t.Fatalf("control child forked by a dying thread: %v, want signal SIGKILL", e)
	}
	for _, p := range procs {
		if !alive(p.PID) {
			t.Errorf("PID %d (spawned by the Spawner) died with a thread; state %c", p.PID, procState(p.PID))
		}
	}
}

func TestClosedSpawnerKeepsChildren(t *testing.T) {
	s := NewSpawner()
	p := start(t, s, helperSpec("sleep"))
	s.Close()
	// Regression: Close used to unlock the thread, and the first goroutine
	// to lock it and end locked destroyed it, killing the child.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { runtime.LockOSThread() })
	}
	wg.Wait()
	ctl := forkFromDyingThread(t)
	waitExit(t, ctl.pid, ctl.since)
	if !alive(p.PID) {
		t.Errorf("PID %d died after Spawner.Close; state %c", p.PID, procState(p.PID))
	}
}

type forked struct {
	pid   int
	since time.Time
}

// forkFromDyingThread starts "sleep" with Pdeathsig SIGKILL from a thread that
// exits right after.
func forkFromDyingThread(t *testing.T) forked {
	t.Helper()
	res := make(chan forked, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		since := time.Now()
		pid, err := syscall.ForkExec(self(), helperArgv("sleep"), &syscall.ProcAttr{
			Env: append(os.Environ(), helperEnv+"=1"),
			Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			t.Errorf("ForkExec: %v", err)
		}
		res <- forked{pid, since}
	}()
	f := <-res
	if f.pid == 0 {
		t.FailNow()
	}
	return f
}

func TestChildDiesWithSupervisor(t *testing.T) {
	out := newOutput()
	spec := helperSpec("supervise")
	spec.Output = out
	sup := start(t, testSpawner, spec)
	since := time.Now()
	child := waitPID(t, out, "child")
	if !alive(child) {
		t.Fatalf("child %d of the supervisor is not running", child)
	}
	// Kill the supervisor alone; its child leads another group.
	if err := unix.Kill(sup.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if e := waitProc(t, sup); e.Signal != syscall.SIGKILL {
		t.Fatalf("exit of the supervisor = %v, want signal SIGKILL (ours)", e)
	}
	// Orphaned to the test process (a subreaper) and killed by Pdeathsig.
	if e := waitExit(t, child, since); e.Signal != syscall.SIGKILL {
		t.Errorf("exit of the child of a killed supervisor = %v, want signal SIGKILL", e)
	}
}

func TestExitString(t *testing.T) {
	for _, tt := range []struct {
		e    Exit
		want string
		ok   bool
	}{
		{Exit{Code: 0}, "exit status 0", true},
		{Exit{Code: 1}, "exit status 1", false},
		{Exit{Code: -1, Signal: syscall.SIGTERM}, "signal SIGTERM", false},
		{Exit{Code: -1, Signal: syscall.Signal(99)}, "signal 99", false},
	} {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.e, got, tt.want)
		}
		if got := tt.e.Success(); got != tt.ok {
			t.Errorf("%+v.Success() = %v, want %v", tt.e, got, tt.ok)
		}
	}
}

// buildEnv is envBase.build on base, as a Spawner builds on os.Environ().
func buildEnv(base []string, extra map[string]string, name string) ([]string, error) {
	var b envBase
	b.update(base)
	return b.build(extra, name)
}

// TestSpawnerKeepsMainThreadTable: /proc/PID/fd, which ls and lsof read,
// shows the main thread's descriptor table. A Spawner's threads have
// tables of their own, so none may be the main thread, or what the process
// holds (its log files) would not show there. ringsup makes its Spawner
// on the main goroutine, on the main thread, where a worker's goroutine
// ran as soon as NewSpawner waited for it: the helper does the same.
func TestSpawnerKeepsMainThreadTable(t *testing.T) {
	for range 5 {
		cmd := exec.Command(self(), "main-table")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("main-table helper: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != os.DevNull {
			t.Fatalf("/proc/PID/fd/N of a file opened after NewSpawner = %q, want %s: a worker took the main thread", got, os.DevNull)
		}
	}
}

// TestWatcher: the exit of a watched process is reported and reaped by its
// PID, before any walk (ReapUpTo(1) would take whichever exit it walks to
// first); an unwatched one is still reaped by the walk.
func TestWatcher(t *testing.T) {
	notified, notify := notifier()
	w, err := NewWatcher(notify)
	if err != nil {
		t.Fatalf("NewWatcher() = %v; this kernel (Linux >= 5.3) has pidfds", err)
	}
	defer w.Close()
	watched := start(t, testSpawner, helperSpec("sleep"))
	other := start(t, testSpawner, helperSpec("sleep"))
	if err := w.Watch(watched.PID); err != nil {
		t.Fatalf("Watch(%d) = %v", watched.PID, err)
	}
	if n := w.Watching(); n != 1 {
		t.Fatalf("Watching() = %d, want 1", n)
	}
	// The unwatched one exits first: it is ready to reap, and still the
	// watched one is reaped first, by its PID.
	other.Signal(syscall.SIGKILL)
	waitZombie(t, other.PID)
	watched.Signal(syscall.SIGKILL)
	select {
	case <-notified:
	case <-time.After(waitTimeout):
		t.Fatalf("no report of the exit of watched PID %d after %v", watched.PID, waitTimeout)
	}
	exits, err := w.Reap(1)
	if err != nil || len(exits) != 1 || exits[0].PID != watched.PID || exits[0].Signal != syscall.SIGKILL {
		t.Fatalf("Reap(1) = %v, %v; want the SIGKILL of watched PID %d", exits, err, watched.PID)
	}
	takenProcs.Store(watched, true)
	if n := w.Watching(); n != 0 {
		t.Errorf("Watching() after its exit = %d, want 0", n)
	}
	exits, err = w.Reap(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := exitOfPID(exits, other.PID); !ok {
		t.Errorf("Reap(0) = %v; want the exit of unwatched PID %d among them", exits, other.PID)
	}
	takenProcs.Store(other, true)
}

// TestWatcherReapsBeforeReport: an exit whose report the Watcher's
// goroutine has not taken yet is reaped by its PID all the same, not left
// to a walk (the supervisor woken by SIGCHLD before that goroutine ran).
// The goroutine is started only after the reap, so it cannot take the
// report first.
func TestWatcherReapsBeforeReport(t *testing.T) {
	notified, notify := notifier()
	w, rc, err := newWatcher(notify)
	if err != nil {
		t.Fatalf("newWatcher() = %v", err)
	}
	defer w.Close()
	defer func() { go w.serve(rc) }() // Close waits for it
	p := start(t, testSpawner, helperSpec("exit", "5"))
	if err := w.Watch(p.PID); err != nil {
		t.Fatalf("Watch(%d) = %v", p.PID, err)
	}
	waitZombie(t, p.PID)
	exits := w.ReapReported(1)
	if len(exits) != 1 || exits[0].PID != p.PID || exits[0].Code != 5 {
		t.Fatalf("ReapReported(1) = %v; want PID %d's exit status 5, reported by its pidfd before the goroutine ran", exits, p.PID)
	}
	takenProcs.Store(p, true)
	if n := w.Watching(); n != 0 {
		t.Errorf("Watching() after its exit = %d, want 0", n)
	}
	select {
	case <-notified:
		t.Errorf("notify called with no goroutine to call it")
	default:
	}
}

// reapReported returns what w.ReapReported(max) gives once it gives an
// exit. A process can be a zombie while its report is in neither place
// ReapReported looks: taken from the epoll instance by the Watcher's
// goroutine and not yet on its ready list (the goroutine notifies once
// it is, and the supervisor's loop calls again then).
func reapReported(t *testing.T, w *Watcher, max int) []Exit {
	t.Helper()
	var exits []Exit
	pollUntil(t, "ReapReported gives an exit", func() bool {
		exits = w.ReapReported(max)
		return len(exits) > 0
	})
	return exits
}

// TestWatcherClosesPidfds: the pidfds of processes reaped one at a time
// (ReapReported(1), a restart on its way) stay open until a reap of every
// exit or the next Watch, and no longer.
func TestWatcherClosesPidfds(t *testing.T) {
	w, err := NewWatcher(func() {})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	defer w.Close()
	before := pidfds(t)
	var procs []*Proc
	for range 3 {
		p := start(t, testSpawner, helperSpec("exit", "6"))
		if err := w.Watch(p.PID); err != nil {
			t.Fatalf("Watch(%d) = %v", p.PID, err)
		}
		procs = append(procs, p)
	}
	if n := pidfds(t); n != before+3 {
		t.Fatalf("%d pidfds open with 3 processes watched, want %d", n, before+3)
	}
	for _, p := range procs {
		waitZombie(t, p.PID)
		takenProcs.Store(p, true)
	}
	var got []Exit
	for len(got) < 3 {
		got = append(got, reapReported(t, w, 1)...)
	}
	if n := pidfds(t); n != before+3 {
		t.Errorf("%d pidfds open after 3 reaps of one exit, want %d (closed later)", n, before+3)
	}
	exits, err := w.Reap(0)
	if err != nil {
		t.Fatal(err)
	}
	exitOfPID(exits, 0) // other tests' exits, kept for them
	if n := pidfds(t); n != before {
		t.Errorf("%d pidfds open after Reap(0), want %d", n, before)
	}
}

// TestWatcherReleasesAfterWatch: a reap of one exit (a restart on its
// way) reads the exit and leaves the process a zombie, so that the
// kernel's teardown of its task does not delay the restart's fork; the
// next Watch (the restart's) releases it, and no walk reports it again.
func TestWatcherReleasesAfterWatch(t *testing.T) {
	w, err := NewWatcher(func() {})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	defer w.Close()
	for _, kill := range []bool{false, true} {
		spec := helperSpec("exit", "7")
		if kill {
			spec = helperSpec("sleep")
		}
		p := start(t, testSpawner, spec)
		if err := w.Watch(p.PID); err != nil {
			t.Fatalf("Watch(%d) = %v", p.PID, err)
		}
		if kill {
			p.Signal(syscall.SIGKILL)
		}
		waitZombie(t, p.PID)
		takenProcs.Store(p, true)
		exits := reapReported(t, w, 1)
		want := Exit{PID: p.PID, Code: 7}
		if kill {
			want = Exit{PID: p.PID, Code: -1, Signal: syscall.SIGKILL}
		}
		if len(exits) != 1 || exits[0].PID != want.PID || exits[0].Code != want.Code || exits[0].Signal != want.Signal {
			t.Fatalf("ReapReported(1) = %v; want %v", exits, want)
		}
		if err := unix.Kill(p.PID, 0); err != nil {
			t.Fatalf("kill(%d, 0) after ReapReported(1) = %v; want the zombie still there", p.PID, err)
		}
		next := start(t, testSpawner, helperSpec("sleep"))
		if err := w.Watch(next.PID); err != nil {
			t.Fatalf("Watch(%d) = %v", next.PID, err)
		}
		if err := unix.Kill(p.PID, 0); err != unix.ESRCH {
			t.Errorf("kill(%d, 0) after the next Watch = %v; want ESRCH, released", p.PID, err)
		}
		next.Signal(syscall.SIGKILL)
		waitZombie(t, next.PID)
		takenProcs.Store(next, true)
		exits, err := w.Reap(0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := exitOfPID(exits, p.PID); ok {
			t.Errorf("Reap(0) = %v; PID %d's exit reported a second time", exits, p.PID)
		}
		if _, ok := exitOfPID(exits, next.PID); !ok {
			t.Errorf("Reap(0) = %v; want PID %d's exit", exits, next.PID)
		}
	}
}

// TestWatcherWalkSkipsPeeked: a walk after a reap of one exit does not
// report that exit again: it releases the zombie first.
func TestWatcherWalkSkipsPeeked(t *testing.T) {
	w, err := NewWatcher(func() {})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	defer w.Close()
	p := start(t, testSpawner, helperSpec("exit", "3"))
	if err := w.Watch(p.PID); err != nil {
		t.Fatalf("Watch(%d) = %v", p.PID, err)
	}
	waitZombie(t, p.PID)
	takenProcs.Store(p, true)
	if exits := reapReported(t, w, 1); len(exits) != 1 || exits[0].PID != p.PID {
		t.Fatalf("ReapReported(1) = %v; want PID %d's exit", exits, p.PID)
	}
	exits, err := w.Walk(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := exitOfPID(exits, p.PID); ok {
		t.Errorf("Walk(0) = %v; PID %d's exit reported a second time", exits, p.PID)
	}
	if err := unix.Kill(p.PID, 0); err != unix.ESRCH {
		t.Errorf("kill(%d, 0) after Walk = %v; want ESRCH, released", p.PID, err)
	}
}

// pidfds counts the process's open pidfds.
func pidfds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}

// TestWatcherExitOnce: a watched process whose exit the walk reaps before
// its report is reaped once and forgotten, report or not.
func TestWatcherExitOnce(t *testing.T) {
	w, err := NewWatcher(func() {})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	defer w.Close()
	var got []Exit
	for range 20 {
		p := start(t, testSpawner, helperSpec("exit", "3"))
		if err := w.Watch(p.PID); err != nil {
			t.Fatalf("Watch(%d) = %v", p.PID, err)
		}
		waitZombie(t, p.PID)
		takenProcs.Store(p, true)
		exits, err := w.Reap(0) // the report may or may not be in
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exits {
			if e.PID == p.PID {
				got = append(got, e)
				continue
			}
			exitsMu.Lock()
			exitsFor[e.PID] = e // another test's
			exitsMu.Unlock()
		}
	}
	if len(got) != 20 {
		t.Errorf("reaped %d exits of 20 processes: %v", len(got), got)
	}
	for _, e := range got {
		if e.Code != 3 {
			t.Errorf("exit of PID %d = %v, want exit status 3", e.PID, e)
		}
	}
	if n := w.Watching(); n != 0 {
		t.Errorf("Watching() = %d after every exit, want 0", n)
	}
}

// TestWatcherStop: after Stop, the exit of a watched process is no longer
// reported (notify stays silent), and the walk reaps it.
func TestWatcherStop(t *testing.T) {
	notified, notify := notifier()
	w, err := NewWatcher(notify)
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	defer w.Close() // again: Close and Stop may be called twice
	p := start(t, testSpawner, helperSpec("exit", "4"))
	if err := w.Watch(p.PID); err != nil {
		t.Fatalf("Watch(%d) = %v", p.PID, err)
	}
	w.Stop()
	waitZombie(t, p.PID)
	takenProcs.Store(p, true)
	select {
	case <-notified:
		t.Errorf("the exit of PID %d was reported after Stop", p.PID)
	default:
	}
	exits, err := ReapUpTo(0)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := exitOfPID(exits, p.PID); !ok || e.Code != 4 {
		t.Errorf("ReapUpTo(0) after Stop = %v; want PID %d's exit status 4", exits, p.PID)
	}
	// Stop leaves the epoll instance's close to a goroutine; Close waits
	// for it.
	ep := fmt.Sprintf("/proc/self/fd/%d", w.ep)
	w.Close()
	if link, err := os.Readlink(ep); err == nil && link == "anon_inode:[eventpoll]" {
		t.Errorf("after Close, %s is still %s", ep, link)
	}
}

// exitOfPID returns the exit of pid among exits, and records the others,
// other tests' exits, for them.
func exitOfPID(exits []Exit, pid int) (Exit, bool) {
	var got Exit
	found := false
	for _, e := range exits {
		if e.PID == pid {
			got, found = e, true
			continue
		}
		exitsMu.Lock()
		exitsFor[e.PID] = e // another test's
		exitsMu.Unlock()
	}
	return got, found
}

// waitZombie waits until pid has exited and can be reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	pollUntil(t, fmt.Sprintf("PID %d can be reaped", pid), func() bool {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil); err != nil {
			t.Fatalf("waitid(%d) = %v", pid, err)
		}
		return info.Signo != 0
	})
}

// notifier returns a Watcher's notify function and the channel where it
// leaves a value (one at most, like SIGCHLD).
func notifier() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
