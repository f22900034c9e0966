package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fault tests run the real ringsup on daemons that misbehave, one
// scenario each. docs/reliability.md says what they show.

// faultDaemon runs the test daemons of the fault tests (RINGSUP_TEST_DAEMON
// modes); ok is false for a mode it does not know.
func faultDaemon(mode string) (code int, ok bool) {
	name := os.Getenv("RINGSUP_DAEMON")
	writePID := func(file string, pid int) {
		os.WriteFile(file, []byte(strconv.Itoa(pid)+"\n"), 0o644)
	}
	fail := func(err error) (int, bool) {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	switch mode {
	case "sleep":
		writePID(name+".pid", os.Getpid())
	case "sleep-quiet":
		// A background process: if a test fails to kill it, it still
		// does not stay for good.
		time.Sleep(10 * time.Minute)
		return 0, true
	case "ignore-term":
		// Deaf to SIGTERM: only SIGKILL stops it.
		signal.Ignore(syscall.SIGTERM)
		writePID(name+".pid", os.Getpid())
	case "double-fork":
		// Daemonizes a child the classic way, inside the process group:
		// a child starts a grandchild and exits at once, so the
		// grandchild is orphaned and re-parented to the nearest
		// subreaper, ringsup.
		child, err := startTestDaemon("fork-once", nil)
		if err != nil {
			return fail(err)
		}
		child.Wait()
		writePID(name+".pid", os.Getpid())
	case "fork-once":
		gc, err := startTestDaemon("sleep-quiet", nil)
		if err != nil {
			return fail(err)
		}
		writePID(name+".bg.pid", gc.Pid)
		return 0, true
	case "escape", "escape-anon":
		// Starts a child that calls setsid: a new session and process
		// group, out of reach of the signals sent to the daemon's group.
		// escape-anon's child also loses RINGSUP_DAEMON.
		if mode == "escape-anon" {
			os.Unsetenv("RINGSUP_DAEMON")
		}
		child, err := startTestDaemon("sleep-quiet", &syscall.SysProcAttr{Setsid: true})
		if err != nil {
			return fail(err)
		}
		writePID(name+".escaped.pid", child.Pid)
		writePID(name+".pid", os.Getpid())
	case "join-group":
		// Starts a child deaf to SIGTERM, without RINGSUP_DAEMON, in the
		// process group of daemon $JOIN_GROUP_OF (setpgid): a member of
		// a group that is not of its parent's tree.
		leader := waitPIDFile(os.Getenv("JOIN_GROUP_OF") + ".pid")
		os.Unsetenv("RINGSUP_DAEMON")
		child, err := startTestDaemon("deaf-quiet", &syscall.SysProcAttr{Setpgid: true, Pgid: leader})
		if err != nil {
			return fail(err)
		}
		writePID(name+".joined.pid", child.Pid)
		writePID(name+".pid", os.Getpid())
	case "clone-parent":
		// Starts a sibling (clone CLONE_PARENT, as runc's nsexec does):
		// a member of its process group whose parent is ringsup itself,
		// deaf to SIGTERM. It is never re-parented, so never an orphan.
		env := []string{"RINGSUP_TEST_DAEMON=deaf-pid"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "RINGSUP_TEST_DAEMON=") {
				env = append(env, kv)
			}
		}
		pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0]}, &syscall.ProcAttr{
			Env: env, Files: []uintptr{0, 1, 2},
			Sys: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_PARENT},
		})
		if err != nil {
			return fail(err)
		}
		if waitPIDFile(name+".deaf.pid") != pid {
			return fail(fmt.Errorf("sibling %d not ready", pid))
		}
		writePID(name+".sibling.pid", pid)
		writePID(name+".pid", os.Getpid())
	case "deaf-pid":
		signal.Ignore(syscall.SIGTERM)
		writePID(name+".deaf.pid", os.Getpid())
		time.Sleep(10 * time.Minute)
		return 0, true
	case "deaf-quiet":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(10 * time.Minute)
		return 0, true
	case "close-stdout":
		// Says one line, closes its output and lives on; what it writes
		// afterwards fails, which it ignores.
		fmt.Println("closing stdout")
		os.Stdout.Close()
		os.Stderr.Close()
		fmt.Println("lost")
		writePID(name+".pid", os.Getpid())
	case "flood":
		// Writes as fast as its pipe takes it.
		chunk := bytes.Repeat([]byte("flood flood flood flood flood flood flood flood flood flood\n"), 1000)
		writePID(name+".pid", os.Getpid())
		for {
			if _, err := os.Stdout.Write(chunk); err != nil {
				return fail(err)
			}
		}
	default:
		return 0, false
	}
	for {
		time.Sleep(time.Hour)
	}
}

// startTestDaemon starts the test binary as test daemon mode, with the
// caller's environment, directory and output, and sys's attributes.
func startTestDaemon(mode string, sys *syscall.SysProcAttr) (*os.Process, error) {
	// The first of two RINGSUP_TEST_DAEMON would win: replace it.
	env := []string{"RINGSUP_TEST_DAEMON=" + mode}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RINGSUP_TEST_DAEMON=") {
			env = append(env, kv)
		}
	}
	return os.StartProcess(os.Args[0], []string{os.Args[0]}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{nil, os.Stdout, os.Stderr},
		Sys:   sys,
	})
}

// testDaemonConfig returns the command and env lines of a daemon that runs
// the test binary as test daemon mode.
func testDaemonConfig(mode string) string {
	return fmt.Sprintf("command = [%q]\nenv = { RINGSUP_TEST_DAEMON = %q }\n", os.Args[0], mode)
}

// faultNode runs ringsup on cfg, as runNode, with processes that exit at
// once under the race detector, and waits until it listens on its socket.
func faultNode(t *testing.T, cfg string) (string, *ringsupProc) {
	t.Helper()
	quickRaceExit(t)
	dir, r := runNode(t, cfg)
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	return dir, r
}

// procParents returns the parent pid and process group of pid, from
// /proc/PID/stat; zeros when it does not exist.
func procParents(pid int) (ppid, pgid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, _ = strconv.Atoi(f[1])
	pgid, _ = strconv.Atoi(f[2])
	return ppid, pgid
}

// waitReaped waits until pid no longer exists: it exited and its parent
// reaped it (a zombie does not count).
func waitReaped(t *testing.T, pid int, what string) {
	t.Helper()
	eventually(t, 10*time.Second, what+" reaped", func() bool { return procState(pid) == 0 })
}

// TestFaultIgnoresSIGTERM: a daemon deaf to SIGTERM stays stopping until
// stop_timeout, then its group gets SIGKILL.
func TestFaultIgnoresSIGTERM(t *testing.T) {
	dir, r := faultNode(t, "[daemons.deaf]\n"+testDaemonConfig("ignore-term")+"stop_timeout = \"1s\"\n")
	pid := readPID(t, filepath.Join(dir, "deaf.pid"))
	waitCtlState(t, dir, "deaf", "running")

	start := time.Now()
	ctlOK(t, dir, "stop", "deaf")
	if st := ctlStatus(t, dir, "deaf"); time.Since(start) < time.Second {
		if got := daemonField(st, "deaf", "state"); got != "stopping" {
			t.Errorf("state before stop_timeout = %v, want stopping", got)
		}
	}
	st := waitCtlState(t, dir, "deaf", "stopped")
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("stopped after %v, before its 1s stop_timeout", elapsed)
	}
	if x, _ := daemonField(st, "deaf", "last_exit").(map[string]any); x["signal"] != "SIGKILL" {
		t.Errorf("last_exit = %v, want SIGKILL", x)
	}
	waitReaped(t, pid, "deaf")
	if !strings.Contains(r.output.String(), "event=DAEMON_STOPPED daemon=deaf signal=SIGKILL") {
		t.Errorf("no DAEMON_STOPPED with SIGKILL in the log:\n%s", r.output)
	}
}

// TestFaultDoubleFork: a process a daemon left in the background, in its
// process group, is re-parented to ringsup, and dies with the daemon when it
// crashes or stops; ringsup reaps it.
func TestFaultDoubleFork(t *testing.T) {
	dir, _ := crashForker(t, "100ms")
	pid, bg := readPID(t, filepath.Join(dir, "forker.pid")), readPID(t, filepath.Join(dir, "forker.bg.pid"))

	// The daemon stops: its whole group is signalled.
	ctlOK(t, dir, "stop", "forker")
	waitCtlState(t, dir, "forker", "stopped")
	waitReaped(t, pid, "the daemon")
	waitReaped(t, bg, "the background process of the stopped daemon")
}

// TestFaultDoubleForkRestartsAtOnce: TestFaultDoubleFork's crash with no
// backoff. ringsup reads the leader's exit without reaping it and forks
// the replacement first; the rest of the old group is killed all the
// same, and the old leader is reaped, not left a zombie.
func TestFaultDoubleForkRestartsAtOnce(t *testing.T) {
	dir, pid := crashForker(t, "0s")
	waitReaped(t, pid, "the crashed daemon")
	if next := readPID(t, filepath.Join(dir, "forker.pid")); next == pid {
		t.Errorf("the restarted daemon has the crashed one's pid %d", pid)
	}
	waitCtlState(t, dir, "forker", "running")
}

// crashForker runs a double-fork daemon with backoff_min backoff, checks
// that the process it left in the background is ringsup's child in the
// daemon's group, SIGKILLs the daemon and waits until that process is
// killed and reaped too. It returns the node's directory and the crashed
// daemon's pid.
func crashForker(t *testing.T, backoff string) (dir string, pid int) {
	t.Helper()
	dir, r := faultNode(t, "[daemons.forker]\n"+testDaemonConfig("double-fork")+"backoff_min = \""+backoff+"\"\n")
	pidFile, bgFile := filepath.Join(dir, "forker.pid"), filepath.Join(dir, "forker.bg.pid")
	pid, bg := readPID(t, pidFile), readPID(t, bgFile)
	if ppid, pgid := procParents(bg); ppid != r.pid || pgid != pid {
		t.Fatalf("background process %d: parent %d, group %d; want ringsup %d and the daemon's group %d", bg, ppid, pgid, r.pid, pid)
	}
	// The daemon crashes: what is left of its group is killed with it.
	os.Remove(pidFile)
	os.Remove(bgFile)
	syscall.Kill(pid, syscall.SIGKILL)
	waitReaped(t, bg, "the background process of the crashed daemon")
	return dir, pid
}

// TestFaultSetsidEscapes: a process that calls setsid leaves its daemon's
// process group, out of reach of the signals that stop the group. What
// ringsup can and cannot do about it (docs/reliability.md):
func TestFaultSetsidEscapes(t *testing.T) {
	// Whatever escaped is killed after ringsup has stopped (cleanups run
	// last first), and after runNode's cleanup has checked what it left.
	esc := map[string]int{}
	t.Cleanup(func() {
		for _, pid := range esc {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	dir, r := faultNode(t, "[daemons.escaper]\n"+testDaemonConfig("escape")+
		"[daemons.anon]\n"+testDaemonConfig("escape-anon")+
		"[daemons.last]\n"+testDaemonConfig("escape"))
	for _, name := range []string{"escaper", "anon", "last"} {
		readPID(t, filepath.Join(dir, name+".pid"))
		esc[name] = readPID(t, filepath.Join(dir, name+".escaped.pid"))
		if _, pgid := procParents(esc[name]); pgid != esc[name] {
			t.Fatalf("%s's escaped process %d in group %d, want its own", name, esc[name], pgid)
		}
	}
	// While its parent lives, an escaped process is not ringsup's to see.
	if left := daemonField(ctlStatus(t, dir, "escaper"), "escaper", "leftovers"); left != nil {
		t.Errorf("leftovers while the daemon runs = %v, want none", left)
	}

	// Stopped: the group goes, and the escaped process, now a child of
	// ringsup (the subreaper), is found by the RINGSUP_DAEMON it inherited
	// and killed.
	ctlOK(t, dir, "stop", "escaper", "anon")
	waitReaped(t, esc["escaper"], "escaper's escaped process")

	// One that also lost RINGSUP_DAEMON cannot be told from any other
	// orphan: it outlives the stop, as a child of ringsup.
	st := waitCtlState(t, dir, "anon", "stopped")
	if processGone(esc["anon"]) {
		t.Fatalf("anon's escaped process %d died with the stop: update docs/reliability.md", esc["anon"])
	}
	if ppid, _ := procParents(esc["anon"]); ppid != r.pid {
		t.Errorf("anon's escaped process %d: parent %d, want ringsup %d", esc["anon"], ppid, r.pid)
	}
	if left := daemonField(st, "anon", "leftovers"); left != nil {
		t.Errorf("anon's leftovers = %v, want none: it cannot be attributed", left)
	}
	// When it ends, ringsup reaps it: no zombie.
	syscall.Kill(esc["anon"], syscall.SIGKILL)
	waitReaped(t, esc["anon"], "anon's escaped process")

	// At shutdown, last's escaped process is killed too: runNode's cleanup
	// checks that ringsup leaves no process behind.
}

// TestFaultClosesStdout: a daemon that closes its output keeps running;
// its next run gets a new pipe and its output reaches the log again.
func TestFaultClosesStdout(t *testing.T) {
	dir, _ := faultNode(t, "[daemons.mute]\n"+testDaemonConfig("close-stdout"))
	pidFile := filepath.Join(dir, "mute.pid")
	pid := readPID(t, pidFile)
	st := waitCtlState(t, dir, "mute", "running")
	if got := daemonField(st, "mute", "pid"); got != float64(pid) {
		t.Errorf("pid %v, want %d", got, pid)
	}
	eventually(t, 10*time.Second, "the line before closing in the log", func() bool {
		return ctlOK(t, dir, "logs", "mute") == "closing stdout\n"
	})
	os.Remove(pidFile)
	ctlOK(t, dir, "restart", "mute")
	if readPID(t, pidFile) == pid {
		t.Fatal("same pid after restart")
	}
	eventually(t, 10*time.Second, "the second run's line in the log", func() bool {
		return ctlOK(t, dir, "logs", "mute") == "closing stdout\nclosing stdout\n"
	})
	st = waitCtlState(t, dir, "mute", "running")
	if got := daemonField(st, "mute", "restart_count"); got != float64(0) {
		t.Errorf("restart_count = %v, want 0", got)
	}
}

// TestFaultFloodsOutput: a daemon that writes as fast as it can fills its
// rotated logs up to their size and no further, and slows neither ringsup
// nor another daemon's output.
func TestFaultFloodsOutput(t *testing.T) {
	dir, _ := faultNode(t, `
[supervisor]
log_dir = "logs"
log_max_size = "256KB"
log_max_files = 1

[daemons.flood]
`+testDaemonConfig("flood")+`
[daemons.ticker]
command = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done"
`)
	logs := filepath.Join(dir, "logs")
	eventually(t, 20*time.Second, "flood.log rotated", func() bool {
		_, err := os.Stat(filepath.Join(logs, "flood.log.1"))
		return err == nil
	})
	ticks := func() int {
		b, _ := os.ReadFile(filepath.Join(logs, "ticker.log"))
		return bytes.Count(b, []byte("\n"))
	}
	before := ticks()
	start := time.Now()
	st := ctlStatus(t, dir)
	t.Logf("ctl status during the flood: %v", time.Since(start).Round(time.Millisecond))
	for _, name := range []string{"flood", "ticker"} {
		if got := daemonField(st, name, "state"); got != "running" {
			t.Errorf("%s is %v, want running", name, got)
		}
	}
	eventually(t, 10*time.Second, "ticker's lines keep coming", func() bool { return ticks() >= before+10 })
	// flood.log may be missing for a moment, between its rotation and
	// the next write.
	files, _ := filepath.Glob(filepath.Join(logs, "flood.log*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 256<<10 {
			t.Errorf("%s: %d bytes, want at most 256 KiB", filepath.Base(f), fi.Size())
		}
		if b := filepath.Base(f); b != "flood.log" && b != "flood.log.1" {
			t.Errorf("%s exists with log_max_files = 1", b)
		}
	}
	ctlOK(t, dir, "stop", "flood")
	waitCtlState(t, dir, "flood", "stopped")
}

// TestFaultInstantExit: daemons that exit as soon as they are spawned,
// before ringsup has recorded their pid, are all accounted for.
func TestFaultInstantExit(t *testing.T) {
	dir, r := faultNode(t, `
[daemons.code3]
command = "exit 3"
auto_restart = false

[daemons.code0]
command = "exit 0"
auto_restart = false

[daemons.selfkill]
command = "kill -9 $$"
auto_restart = false

[daemons.loop]
command = "exit 1"
backoff_min = "0s"
backoff_max = "0s"
max_restarts = 20
`)
	for name, want := range map[string]struct {
		state, signal string
		code          float64
		restarts      float64
	}{
		"code3":    {"failed", "", 3, 0},
		"code0":    {"stopped", "", 0, 0},
		"selfkill": {"failed", "SIGKILL", -1, 0},
		"loop":     {"failed", "", 1, 20},
	} {
		st := waitCtlState(t, dir, name, want.state)
		x, _ := daemonField(st, name, "last_exit").(map[string]any)
		if x["code"] != want.code || x["signal"] != want.signal {
			t.Errorf("%s: last_exit %v, want code %v signal %q", name, x, want.code, want.signal)
		}
		if got := daemonField(st, name, "restart_count"); got != want.restarts {
			t.Errorf("%s: restart_count %v, want %v", name, got, want.restarts)
		}
	}
	// Every run of loop exited once, and was seen to.
	if n := strings.Count(r.output.String(), "event=DAEMON_EXITED daemon=loop "); n != 21 {
		t.Errorf("%d DAEMON_EXITED for loop, want 21 (a first run and 20 restarts)", n)
	}
	eventually(t, 10*time.Second, "no process or zombie left under ringsup", func() bool {
		return len(childrenOf(r.pid)) == 0
	})
}

// TestFaultCommandVanishes: a command removed from disk gives
// import_failed at its next start, which is not retried until a reload
// changes the daemon (ctl reload or SIGHUP) or restart --force.
func TestFaultCommandVanishes(t *testing.T) {
	cfg := func(v int) string {
		return fmt.Sprintf("[supervisor]\nwatch = false\nbackoff_min = \"100ms\"\n[daemons.tool]\ncommand = [\"./bin/tool\"]\nenv = { V = \"%d\" }\n", v)
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "bin", "tool")
	install := func() {
		t.Helper()
		os.MkdirAll(filepath.Dir(tool), 0o755)
		write(t, tool, "#!/bin/sh\necho $$ > tool.pid\nexec sleep 1000\n")
		if err := os.Chmod(tool, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	install()
	write(t, filepath.Join(dir, "ringsup.toml"), cfg(1))
	quickRaceExit(t)
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	pidFile := filepath.Join(dir, "tool.pid")
	pid := readPID(t, pidFile)

	// Gone, then the daemon crashes: its restart cannot execute it.
	os.Remove(tool)
	syscall.Kill(pid, syscall.SIGKILL)
	st := waitCtlState(t, dir, "tool", "import_failed")
	if e, _ := daemonField(st, "tool", "last_error").(string); !strings.HasSuffix(e, `/bin/tool": not found`) {
		t.Errorf("last_error = %q", e)
	}

	// Back on disk: a reload that does not change the daemon leaves it be.
	install()
	os.Remove(pidFile)
	if out := ctlOK(t, dir, "reload"); !strings.Contains(out, "restarted: -") {
		t.Errorf("ctl reload with no change:\n%s", out)
	}
	waitCtlState(t, dir, "tool", "import_failed")
	// One that changes it starts it again.
	write(t, filepath.Join(dir, "ringsup.toml"), cfg(2))
	if out := ctlOK(t, dir, "reload"); !strings.Contains(out, "restarted: tool") {
		t.Errorf("ctl reload changing tool:\n%s", out)
	}
	pid = readPID(t, pidFile)
	waitCtlState(t, dir, "tool", "running")

	// Gone between two reloads: the restart a SIGHUP reload makes fails.
	os.Remove(tool)
	write(t, filepath.Join(dir, "ringsup.toml"), cfg(3))
	syscall.Kill(r.pid, syscall.SIGHUP)
	waitCtlState(t, dir, "tool", "import_failed")
	waitReaped(t, pid, "the old tool")
	if n := strings.Count(r.output.String(), "event=DAEMON_IMPORT_FAILED daemon=tool "); n != 2 {
		t.Errorf("%d DAEMON_IMPORT_FAILED in the log, want 2:\n%s", n, r.output)
	}
	install()
	os.Remove(pidFile)
	ctlOK(t, dir, "restart", "--force", "tool")
	readPID(t, pidFile)
	waitCtlState(t, dir, "tool", "running")
}

// TestFaultSupervisorKilled: SIGKILL to ringsup kills its daemons, by their
// parent-death signal. A process a daemon started in the background has no
// such signal, and outlives them (docs/reliability.md).
func TestFaultSupervisorKilled(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ringsup.toml"), "[daemons.plain]\n"+testDaemonConfig("sleep")+"[daemons.forker]\n"+testDaemonConfig("double-fork"))
	quickRaceExit(t)
	r := startRingsup(t, dir)
	plain := readPID(t, filepath.Join(dir, "plain.pid"))
	forker := readPID(t, filepath.Join(dir, "forker.pid"))
	bg := readPID(t, filepath.Join(dir, "forker.bg.pid"))

	syscall.Kill(r.pid, syscall.SIGKILL)
	eventually(t, 10*time.Second, "the daemons die with ringsup", func() bool {
		return processGone(plain) && processGone(forker)
	})
	// The background process is re-parented to us, the next subreaper up.
	eventually(t, 10*time.Second, "the background process re-parented", func() bool {
		ppid, _ := procParents(bg)
		return ppid == os.Getpid() || ppid == 0
	})
	if processGone(bg) {
		t.Errorf("the background process %d died with ringsup: update docs/reliability.md", bg)
	}
	syscall.Kill(bg, syscall.SIGKILL)
	eventually(t, 10*time.Second, "every child reaped", func() bool {
		waitExitsPending()
		return len(childrenOf(os.Getpid())) == 0
	})
}

// TestFaultOutOfDescriptors: when ringsup runs out of file descriptors,
// a spawn fails with a clear error and is retried like a crash; exits are
// still handled, a client waits, and all recover once descriptors are
// available again. The test takes them away by lowering the soft
// RLIMIT_NOFILE of the running ringsup below what it has open.
func TestFaultOutOfDescriptors(t *testing.T) {
	dir, r := faultNode(t, `
[supervisor]
backoff_min = "100ms"
backoff_max = "100ms"

[daemons.crasher]
command = "echo $$ >> crasher.runs; exit 1"
max_restarts = 1000000

[daemons.plain]
`+testDaemonConfig("sleep"))
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "crasher.runs"))
		return bytes.Count(b, []byte("\n"))
	}
	plainFile := filepath.Join(dir, "plain.pid")
	plain := readPID(t, plainFile)
	eventually(t, 10*time.Second, "crasher runs", func() bool { return runs() >= 2 })
	waitCtlState(t, dir, "plain", "running")

	var old unix.Rlimit
	if err := unix.Prlimit(r.pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Prlimit(r.pid, unix.RLIMIT_NOFILE, &old, nil); err != nil && !processGone(r.pid) {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore)
	low := unix.Rlimit{Cur: 3, Max: old.Max}
	if err := unix.Prlimit(r.pid, unix.RLIMIT_NOFILE, &low, nil); err != nil {
		t.Fatal(err)
	}
	const why = `cannot start daemon: daemon=crasher error="cannot start \"crasher\": cannot start \"/bin/sh\": cannot create output pipe: too many open files"`
	eventually(t, 10*time.Second, "spawns fail for want of descriptors", func() bool {
		return strings.Count(r.output.String(), why) >= 3
	})
	stuck := runs()
	// An exit is still handled, and its restart fails too.
	os.Remove(plainFile)
	syscall.Kill(plain, syscall.SIGKILL)
	eventually(t, 10*time.Second, "plain's restart fails", func() bool {
		return strings.Contains(r.output.String(), "cannot start daemon: daemon=plain")
	})
	waitReaped(t, plain, "plain")
	// A client connecting now waits for an answer.
	status := startCtl(t, dir, "status", "--json")

	restore()
	readPID(t, plainFile)
	eventually(t, 10*time.Second, "crasher runs again", func() bool { return runs() > stuck })
	out, errOut, code := status.wait(t, 20*time.Second)
	if code != 0 || !strings.Contains(out, `"crasher"`) {
		t.Errorf("ctl status queued during the shortage: exit %d, %q, %q", code, out, errOut)
	}
	waitCtlState(t, dir, "plain", "running")
	if processGone(r.pid) {
		t.Fatal("ringsup died")
	}
}

// TestFaultLogDirRemoved: with log_dir gone, ringsup, its daemons and ctl
// keep working; output opened before goes to the deleted files until
// SIGUSR1, output opened after is dropped with an error, and both come back
// once the directory exists again.
func TestFaultLogDirRemoved(t *testing.T) {
	dir, r := faultNode(t, `
[supervisor]
log_dir = "logs"

[daemons.talker]
command = "echo $$ > talker.pid; while :; do echo talk; sleep 0.02; done"

[daemons.late]
command = "echo $$ > late.pid; while [ ! -e go ]; do sleep 0.02; done; while :; do echo late; sleep 0.02; done"
`)
	logs := filepath.Join(dir, "logs")
	readPID(t, filepath.Join(dir, "late.pid"))
	eventually(t, 10*time.Second, "talker's log", func() bool { return ctlOK(t, dir, "logs", "-n", "1", "talker") == "talk\n" })
	if err := os.RemoveAll(logs); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "go"), "")
	eventually(t, 10*time.Second, "late's output lost, with an error", func() bool {
		return strings.Contains(r.output.String(), "daemon output is being lost: daemon=late")
	})
	// ctl answers; a log that is not there reads as empty.
	for _, name := range []string{"talker", "late"} {
		waitCtlState(t, dir, name, "running")
		if out := ctlOK(t, dir, "logs", name); out != "" {
			t.Errorf("ctl logs %s with log_dir gone = %q", name, out)
		}
	}
	// A restart works, and its output is dropped too.
	talker := readPID(t, filepath.Join(dir, "talker.pid"))
	os.Remove(filepath.Join(dir, "talker.pid"))
	ctlOK(t, dir, "restart", "talker")
	if readPID(t, filepath.Join(dir, "talker.pid")) == talker {
		t.Error("talker not restarted")
	}

	// The directory back: late, whose file was never opened, resumes by
	// itself; talker and ringsup.log, whose files are open (deleted), after
	// SIGUSR1.
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "late's output back", func() bool { return ctlOK(t, dir, "logs", "-n", "1", "late") == "late\n" })
	syscall.Kill(r.pid, syscall.SIGUSR1)
	eventually(t, 10*time.Second, "talker's output back", func() bool { return ctlOK(t, dir, "logs", "-n", "1", "talker") == "talk\n" })
	ctlOK(t, dir, "restart", "late")
	eventually(t, 10*time.Second, "ringsup.log back", func() bool {
		b, _ := os.ReadFile(filepath.Join(logs, "ringsup.log"))
		return bytes.Contains(b, []byte("daemon=late"))
	})
}

// TestFaultConfigUnreadable: a reload of a config file that became a
// directory or a dangling symlink fails with the reason and changes
// nothing; the file back, the next reload applies.
func TestFaultConfigUnreadable(t *testing.T) {
	cfg := func(v string) string {
		return fmt.Sprintf("[supervisor]\nwatch = false\n[daemons.app]\ncommand = \"echo %s > app.version; echo $$ > app.pid; exec sleep 1000\"\n", v)
	}
	dir, r := faultNode(t, cfg("v1"))
	conf := filepath.Join(dir, "ringsup.toml")
	sock := filepath.Join(dir, "ringsup.sock")
	pid := readPID(t, filepath.Join(dir, "app.pid"))
	failures := 0
	for _, tc := range []struct {
		name, why string
		replace   func()
	}{
		{"a directory", "is a directory", func() {
			os.Remove(conf)
			os.Mkdir(conf, 0o755)
		}},
		{"a dangling symlink", "no such file or directory", func() {
			os.Remove(conf)
			os.Symlink(filepath.Join(dir, "nowhere.toml"), conf)
		}},
	} {
		tc.replace()
		// ctl finds the socket by the config: it is told instead.
		if msg := ctlFails(t, dir, "--socket", sock, "reload"); !strings.Contains(msg, tc.why) {
			t.Errorf("ctl reload with %s: %q, want %q", tc.name, msg, tc.why)
		}
		syscall.Kill(r.pid, syscall.SIGHUP)
		failures += 2
		eventually(t, 10*time.Second, "both reloads fail", func() bool {
			return strings.Count(r.output.String(), "event=CONFIG_RELOAD_FAILED") == failures
		})
		out := ctlOK(t, dir, "--socket", sock, "status", "--json")
		if !strings.Contains(out, fmt.Sprintf(`"pid": %d,`, pid)) || processGone(pid) {
			t.Errorf("with %s: app not running with pid %d:\n%s", tc.name, pid, out)
		}
	}
	os.Remove(conf)
	write(t, conf, cfg("v2"))
	if out := ctlOK(t, dir, "reload"); !strings.Contains(out, "restarted: app") {
		t.Errorf("ctl reload: %q", out)
	}
	eventually(t, 10*time.Second, "app runs v2", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "app.version"))
		return string(b) == "v2\n"
	})
}

// TestSecretsStayOut: env values reach the daemon and nothing else: not
// ringsup's log (stderr and ringsup.log, at trace level), not ctl status,
// ctl events or ctl reload, not even when the daemon cannot start.
func TestSecretsStayOut(t *testing.T) {
	cfg := func(secret string) string {
		return fmt.Sprintf(`
[supervisor]
log_dir = "logs"
watch = false

[daemons.vault]
command = "echo \"$SECRET\" > vault.env; echo $$ > vault.pid; exec sleep 1000"
env = { SECRET = %q }

[daemons.broken]
command = ["./no-such-program"]
env = { TOKEN = %q }
`, secret, secret)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ringsup.toml"), cfg("hunter2"))
	quickRaceExit(t)
	r := startRingsup(t, dir, "--log-level", "trace")
	readPID(t, filepath.Join(dir, "vault.pid"))
	if b, _ := os.ReadFile(filepath.Join(dir, "vault.env")); string(b) != "hunter2\n" {
		t.Fatalf("the daemon got SECRET = %q", b)
	}
	waitCtlState(t, dir, "broken", "import_failed")

	seen := map[string]string{}
	events := startCtl(t, dir, "events")
	eventually(t, 15*time.Second, "ctl events shows a restart", func() bool {
		ctlOK(t, dir, "restart", "vault")
		waitCtlState(t, dir, "vault", "running")
		return strings.Contains(events.stdout.String(), `"daemon_type":"vault"`)
	})
	seen["ctl status --json"] = ctlOK(t, dir, "status", "--json")
	seen["ctl status"] = ctlOK(t, dir, "status")
	write(t, filepath.Join(dir, "ringsup.toml"), cfg("hunter3"))
	seen["ctl reload"] = ctlOK(t, dir, "reload", "--no-block")
	eventually(t, 10*time.Second, "vault gets the new secret", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "vault.env"))
		return string(b) == "hunter3\n"
	})
	seen["ctl status --json after the reload"] = ctlOK(t, dir, "status", "--json")
	stopRingsup(t, r)
	seen["ctl events"], _, _ = events.wait(t, 10*time.Second)
	seen["ringsup's stderr"] = r.output.String()
	for _, f := range []string{"ringsup.log", "vault.log", "broken.log"} {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", f))
		seen[f] = string(b)
	}
	if !strings.Contains(seen["ringsup's stderr"], "event=CONFIG_RELOADED") {
		t.Errorf("the reload did not happen:\n%s", seen["ringsup's stderr"])
	}
	for where, text := range seen {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "hunter3") {
			t.Errorf("%s shows the secret:\n%s", where, text)
		}
	}
}

// TestCtlLogsReadsOnlyDaemonLogs: ctl logs cannot be made to read another
// file, by a path for a name or by a symlink in the log directory.
func TestCtlLogsReadsOnlyDaemonLogs(t *testing.T) {
	dir, r, _ := startCtlNode(t)
	defer stopRingsup(t, r)
	secret := filepath.Join(dir, "secret")
	write(t, secret, "the secret\n")
	for _, name := range []string{"../../etc/passwd", "../secret", "/etc/passwd", "ringsup", "..", "quiet/../router"} {
		if msg := ctlFails(t, dir, "logs", name); msg != fmt.Sprintf("ringsup ctl: unknown daemon %q", name) {
			t.Errorf("ctl logs %s: %q, want unknown daemon", name, msg)
		}
	}
	// quiet never ran: its log is a symlink planted to the secret.
	if err := os.Symlink(secret, filepath.Join(dir, "logs", "quiet.log")); err != nil {
		t.Fatal(err)
	}
	if msg := ctlFails(t, dir, "logs", "quiet"); !strings.Contains(msg, "cannot read the log") || strings.Contains(msg, "the secret") {
		t.Errorf("ctl logs through a symlink: %q", msg)
	}
}

// TestDaemonLogNeverFollowsSymlink: a symlink planted where a daemon's log
// will be does not make ringsup write the daemon's output to its target.
func TestDaemonLogNeverFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	write(t, target, "untouched\n")
	if err := os.Symlink(target, filepath.Join(logs, "victim.log")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "ringsup.toml"), "[supervisor]\nlog_dir = \"logs\"\n[daemons.victim]\ncommand = \"echo $$ > victim.pid; echo written; exec sleep 1000\"\n")
	quickRaceExit(t)
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	readPID(t, filepath.Join(dir, "victim.pid"))
	eventually(t, 10*time.Second, "the output written or refused", func() bool {
		b, _ := os.ReadFile(target)
		return string(b) != "untouched\n" || strings.Contains(r.output.String(), "daemon output is being lost: daemon=victim")
	})
	if b, _ := os.ReadFile(target); string(b) != "untouched\n" {
		t.Errorf("ringsup wrote the daemon's output through a symlink: target = %q", b)
	}
}

// TestFaultReloadWhileNeverReady: a daemon whose health check never passes
// stays starting; a reload must not wait for it forever, or the reload
// that would fix it could never apply.
func TestFaultReloadWhileNeverReady(t *testing.T) {
	cfg := func(v string) string {
		return fmt.Sprintf(`
[supervisor]
watch = false

[daemons.stuck]
command = "exec sleep 1000"
[daemons.stuck.health]
exec = ["false"]
interval = "200ms"
retries = 1000000

[daemons.app]
command = "echo %s > app.version; echo $$ > app.pid; exec sleep 1000"
`, v)
	}
	dir, r := faultNode(t, cfg("v1"))
	readPID(t, filepath.Join(dir, "app.pid"))
	waitCtlState(t, dir, "stuck", "starting")
	write(t, filepath.Join(dir, "ringsup.toml"), cfg("v2"))
	syscall.Kill(r.pid, syscall.SIGHUP)
	eventually(t, 10*time.Second, "app restarted by the reload", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "app.version"))
		return string(b) == "v2\n"
	})
}

// TestDaemonNamedLikeOwnLog: a daemon's log is <name>.log in log_dir, as
// are ringsup's own ringsup.log and hooks.log; a daemon may not be named
// ringsup or hooks, so none writes into them.
func TestDaemonNamedLikeOwnLog(t *testing.T) {
	for _, name := range []string{"ringsup", "hooks"} {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "ringsup.toml"), "[daemons."+name+"]\ncommand = \"exec sleep 1000\"\n")
		_, errOut, err := runCLI(t, "--config", filepath.Join(dir, "ringsup.toml"))
		if err == nil || !strings.Contains(errOut, "daemon name \""+name+"\" is reserved") {
			t.Errorf("a daemon named %s: err %v, stderr %q; want it refused as reserved", name, err, errOut)
		}
	}
}
