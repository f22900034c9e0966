package procexec

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/internal/testproc"
)

// The test binary impersonates the programs the tests start (the pattern of
// os/exec's exec_test.go): started with helperEnv=1, it runs the helper
// command named by its first argument instead of the tests.
const helperEnv = "PROCEXEC_TEST_HELPER"

// helpers are the commands the test binary can impersonate. Each returns the
// exit status.
var helpers = map[string]func(args []string) int{
	// sleep: sleep an hour (Pdeathsig ends it with the test process).
	"sleep": func([]string) int { time.Sleep(time.Hour); return 0 },
	// exit N: exit with status N.
	"exit": func(args []string) int { n, _ := strconv.Atoi(args[0]); return n },
	// reserve N [LIMIT]: with RLIMIT_NOFILE's soft limit set to LIMIT,
	// ReserveDescriptors(N); print the table's size and the open
	// descriptors before and after, and the error.
	"reserve": reserveHelper,
	// ignore-sigterm: ignore SIGTERM, say "ready", sleep.
	"ignore-sigterm": func([]string) int {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	},
	// spawn-grandchild: start a grandchild that sleeps (in the same
	// process group), print its PID, sleep.
	"spawn-grandchild": func([]string) int {
		pid := startSelf(nil, "sleep")
		fmt.Printf("grandchild %d\n", pid)
		time.Sleep(time.Hour)
		return 0
	},
	// hold-pipe-open: start a grandchild that sleeps with our stdout, print
	// its PID, exit.
	"hold-pipe-open": func([]string) int {
		pid := startSelf(os.Stdout, "sleep")
		fmt.Printf("grandchild %d\n", pid)
		return 0
	},
	// main-table: make a Spawner from the main thread, as ringsup does,
	// then print where /proc/PID/fd says a file opened after it leads.
	"main-table": func([]string) int {
		if unix.Gettid() != unix.Getpid() {
			fmt.Println("the helper does not run on the main thread")
			return 1
		}
		s := NewSpawner()
		defer s.Close()
		f, err := os.Open(os.DevNull)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer f.Close()
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()))
		if err != nil {
			fmt.Println(err)
			return 0
		}
		fmt.Println(target)
		return 0
	},
	// print-env: print the environment, one variable a line.
	"print-env": func([]string) int {
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return 0
	},
	// echo-both: alternate writes to stdout and stderr.
	// cat-stdin: copy standard input to standard output.
	"cat-stdin": func([]string) int {
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			return 1
		}
		return 0
	},
	"echo-both": func([]string) int {
		os.Stdout.WriteString("1 out\n")
		os.Stderr.WriteString("2 err\n")
		os.Stdout.WriteString("3 out\n")
		os.Stderr.WriteString("4 err\n")
		return 0
	},
	// burst N: write N bytes of burstPattern to stdout.
	"burst": func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		if _, err := os.Stdout.Write(burst(n)); err != nil {
			return 1
		}
		return 0
	},
	// write-fd N TEXT: write TEXT and a newline to descriptor N.
	"write-fd": func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		if _, err := unix.Write(n, []byte(args[1]+"\n")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	},
	// supervise: start "sleep" through a Spawner, print "child PID", wait.
	"supervise": func([]string) int {
		s := NewSpawner()
		p, err := s.Spawn(Spec{Argv: helperArgv("sleep"), Env: helperEnvMap()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("child %d\n", p.PID)
		select {}
	},
}

func TestMain(m *testing.M) {
	MaybeTrampoline()
	testproc.RunIfHelper(helperEnv, helpers)
	// Orphaned grandchildren come back to the test process, so that the
	// tests can reap them and check that none is left a zombie.
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signal.Notify(sigchld, syscall.SIGCHLD)
	testSpawner = NewSpawner()
	code := m.Run()
	testSpawner.Close()
	os.Exit(code)
}

// startSelf starts the test binary as a helper with os/exec (allowed in
// procexec's tests) and returns its PID; the caller never waits for it.
func startSelf(stdout *os.File, args ...string) int {
	cmd := exec.Command(self(), args...)
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return cmd.Process.Pid
}

func self() string { return testproc.Self() }

// helperArgv is the Argv that runs a helper command.
func helperArgv(args ...string) []string { return testproc.Argv(args...) }

// helperEnvMap is the Env of a helper command.
func helperEnvMap() map[string]string { return testproc.Env(helperEnv) }

// helperSpec is the Spec of a helper command.
func helperSpec(args ...string) Spec { return Spec{Argv: helperArgv(args...), Env: helperEnvMap()} }

// burst returns n bytes of a pattern that shows lost, repeated or reordered
// pieces.
func burst(n int) []byte {
	b := make([]byte, 0, n+9)
	for i := 0; len(b) < n; i++ {
		line := []byte("00000000\n")
		for j, v := 7, i; j >= 0 && v > 0; j, v = j-1, v/10 {
			line[j] = byte('0' + v%10)
		}
		b = append(b, line...)
	}
	return b[:n]
}

// testSpawner serves the tests that need no Spawner of their own.
var testSpawner *Spawner

// Reap collects every child of the test process, whichever test started it,
// so the tests keep the exits they have seen in one place and each takes its
// own.
var (
	sigchld  = make(chan os.Signal, 1)
	exitsMu  sync.Mutex
	exitsFor = map[int]Exit{} // the latest exit reaped for each PID, not yet taken
)

// collect reaps what is ready into exitsFor.
func collect(t testing.TB) {
	t.Helper()
	exits, err := Reap()
	if err != nil {
		t.Fatalf("Reap() = %v", err)
	}
	exitsMu.Lock()
	defer exitsMu.Unlock()
	for _, e := range exits {
		exitsFor[e.PID] = e
	}
}

// takeExit returns the exit of pid reaped after since, if there is one yet.
func takeExit(t testing.TB, pid int, since time.Time) (Exit, bool) {
	t.Helper()
	collect(t)
	exitsMu.Lock()
	defer exitsMu.Unlock()
	e, ok := exitsFor[pid]
	if !ok || e.At.Before(since) {
		return Exit{}, false
	}
	delete(exitsFor, pid)
	return e, true
}

// waitTimeout bounds every wait of the tests.
const waitTimeout = testproc.WaitTimeout

// output is an Output that can be read while it is written and waited on.
type output = testproc.Output

func newOutput() *output { return testproc.NewOutput() }

// waitExit waits for the exit of pid, a process started after since.
func waitExit(t testing.TB, pid int, since time.Time) Exit {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if e, ok := takeExit(t, pid, since); ok {
			return e
		}
		select {
		case <-sigchld:
		case <-time.After(100 * time.Millisecond): // a deadline per round, not a sleep: SIGCHLD wakes it
		case <-deadline:
			t.Fatalf("no exit of PID %d after %v", pid, waitTimeout)
		}
	}
}

// start spawns spec and makes sure, at the end of the test, that its group is
// killed and its exit reaped.
func start(t testing.TB, s *Spawner, spec Spec) *Proc {
	t.Helper()
	before := time.Now()
	p, err := s.Spawn(spec)
	if err != nil {
		t.Fatalf("Spawn(%q) = %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		if _, taken := takenProcs.Load(p); !taken {
			waitExit(t, p.PID, before)
		}
	})
	return p
}

// takenProcs are the processes whose exit a test has taken with waitProc.
var takenProcs sync.Map

// waitProc waits for the exit of p, started by start.
func waitProc(t testing.TB, p *Proc) Exit {
	t.Helper()
	e := waitExit(t, p.PID, p.Started.Add(-time.Second))
	takenProcs.Store(p, true)
	return e
}

// procState is the state letter of pid in /proc/PID/stat ('S', 'Z', ...), or
// 0 when there is no such process.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	s := procState(pid)
	return s != 0 && s != 'Z'
}

// pollUntil calls cond until it is true or the wait times out.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPID waits for a line "<label> PID" in the output.
func waitPID(t testing.TB, o *output, label string) int {
	t.Helper()
	m := o.WaitFor(t, label+` (\d+)\n`)
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// waitDone waits until p's output is done.
func waitDone(t testing.TB, p *Proc) {
	t.Helper()
	select {
	case <-p.OutputDone():
	case <-time.After(waitTimeout):
		t.Fatalf("OutputDone of PID %d not closed after %v", p.PID, waitTimeout)
	}
}

// lines counts the lines of s equal to line.
func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			n++
		}
	}
	return n
}
