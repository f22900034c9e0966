package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// TestMain lets the test binary impersonate ringsup: started with
// RINGSUP_TEST_AS_MAIN=1 it runs main with its arguments, so integration
// tests run the real command as a separate process, with real signals.
func TestMain(m *testing.M) {
	procexec.MaybeTrampoline()
	// A daemon of a test config (it inherits RINGSUP_TEST_AS_MAIN too).
	if mode := os.Getenv("RINGSUP_TEST_DAEMON"); mode != "" {
		os.Exit(testDaemon(mode))
	}
	if os.Getenv("RINGSUP_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// Leftover descendants of a ringsup under test come back to us, so a
	// test can see any process or zombie it failed to clean up.
	if err := procexec.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for the output goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ringsupProc is a ringsup started by a test.
type ringsupProc struct {
	t      testing.TB
	pid    int
	output *syncBuffer
}

var spawner = sync.OnceValue(procexec.NewSpawner)

// startRingsup runs ringsup with args in dir.
func startRingsup(t testing.TB, dir string, args ...string) *ringsupProc {
	t.Helper()
	return startBinary(t, dir, os.Args[0], args...)
}

// startBinary runs the ringsup binary bin with args in dir.
func startBinary(t testing.TB, dir, bin string, args ...string) *ringsupProc {
	t.Helper()
	out := &syncBuffer{}
	p, err := spawner().Spawn(procexec.Spec{
		Argv:   append([]string{bin}, args...),
		Dir:    dir,
		Env:    map[string]string{"RINGSUP_TEST_AS_MAIN": "1"},
		Output: out,
	})
	if err != nil {
		t.Fatalf("cannot start ringsup: %v", err)
	}
	r := &ringsupProc{t: t, pid: p.PID, output: out}
	t.Cleanup(func() {
		if !processGone(r.pid) {
			syscall.Kill(r.pid, syscall.SIGKILL)
			r.wait(10 * time.Second)
		}
	})
	return r
}

// wait waits for ringsup to exit, checks that it left no process or zombie
// behind (they would have come back to us, the subreaper), reaps it and
// returns its exit.
func (r *ringsupProc) wait(timeout time.Duration) procexec.Exit {
	r.t.Helper()
	eventually(r.t, timeout, "ringsup exits", func() bool { return procState(r.pid) == 'Z' })
	if left := childrenOf(os.Getpid(), r.pid); len(left) > 0 {
		r.t.Errorf("ringsup left processes behind: %v\noutput:\n%s", left, r.output)
	}
	var mine procexec.Exit
	eventually(r.t, timeout, "ringsup reaped", func() bool {
		exits, _ := procexec.Reap()
		for _, x := range exits {
			if x.PID == r.pid {
				mine = x
				return true
			}
		}
		return false
	})
	return mine
}

// waitListening waits until ringsup r answers connections on the unix
// socket sock. A socket file alone is not enough: a killed ringsup leaves
// one behind that refuses connections until the next ringsup replaces it.
func waitListening(t testing.TB, r *ringsupProc, sock string) {
	t.Helper()
	eventually(t, 30*time.Second, "ringsup listens on "+sock, func() bool {
		if processGone(r.pid) {
			t.Fatalf("ringsup exited:\n%s", r.output)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns the state letter of /proc/PID/stat, or 0 when the
// process does not exist.
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

// processGone reports whether pid has exited (a zombie counts as gone).
func processGone(pid int) bool {
	s := procState(pid)
	return s == 0 || s == 'Z' || s == 'X'
}

// childrenOf lists the PIDs whose parent is ppid, except those in skip.
func childrenOf(ppid int, skip ...int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || contains(skip, pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// readPID waits for a daemon to write its pid to file and returns it.
func readPID(t testing.TB, file string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "a pid in "+filepath.Base(file), func() bool {
		b, err := os.ReadFile(file)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}
