package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
)

// TestCrashStorm runs real daemons that crash at once, restarting with no
// delay, through the real runtime, then checks that the storm left nothing
// behind: no process or zombie, no descriptor or goroutine, no memory
// growth, and no exit unaccounted for. By default it runs 1,000 cycles
// across 20 daemons; RINGSUP_STORM_FULL=1 runs 10,000 across 100, and
// RINGSUP_STORM_CYCLES=N runs N across 100 (to see whether a growth goes on
// with the cycles or stops).
//
// It spawns real processes, and the real runtime reaps every child of the
// test process: it must not run in parallel with another test that does.
func TestCrashStorm(t *testing.T) {
	daemons, cycles := 20, 1000
	if os.Getenv("RINGSUP_STORM_FULL") == "1" {
		daemons, cycles = 100, 10000
	}
	if v := os.Getenv("RINGSUP_STORM_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n%100 != 0 {
			t.Fatalf("RINGSUP_STORM_CYCLES=%q: want a multiple of 100", v)
		}
		daemons, cycles = 100, n
	}
	if testing.Short() {
		daemons, cycles = 10, 100
	}
	perDaemon := cycles / daemons

	// Each daemon writes a line (its pipe and log file are exercised) and
	// exits 1. max_restarts = perDaemon makes each restart exactly that many
	// times and then end failed, which ends the storm.
	logDir := t.TempDir()
	var src strings.Builder
	fmt.Fprintf(&src, "[supervisor]\nlog_dir = %q\nbackoff_min = \"0s\"\nbackoff_max = \"0s\"\nstable_after = \"1h\"\n", logDir)
	src.WriteString("default_profile = \"idle\"\n[profiles]\nidle = []\n")
	var names []string
	for i := range daemons {
		names = append(names, fmt.Sprintf("crash%03d", i))
		fmt.Fprintf(&src, "[daemons.%s]\ncommand = \"echo crash; exit 1\"\nmax_restarts = %d\n", names[i], perDaemon)
	}
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "storm.toml"), []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	sup, err := New(Options{Config: cfg, EventBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- sup.Run(ctx) }()

	// Count the events as they come. A PROFILE_CHANGED event marks the
	// end of the warm-up: the counts start again from it.
	events, unsubscribe := sup.Subscribe()
	defer unsubscribe()
	warmCycles := cycles / 2
	warmed, marked := make(chan struct{}), make(chan struct{})
	failed := make(chan struct{}, daemons)
	counted := make(chan map[EventType]int, 1)
	go func() {
		n := map[EventType]int{}
		warm := true
		for e := range events {
			n[e.Type]++
			switch {
			case warm && e.Type == DaemonRestarting && n[e.Type] == warmCycles:
				close(warmed)
			case warm && e.Type == ProfileChanged:
				warm, n = false, map[EventType]int{}
				close(marked)
			case !warm && e.Type == DaemonFailed:
				failed <- struct{}{}
			}
		}
		counted <- n
	}()
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-timeout.C:
			st, _ := sup.Status()
			t.Fatalf("timed out waiting for %s: %+v", what, st)
		}
	}

	// The warm-up: half the cycles, then every daemon stopped, so
	// that the baseline includes what the first spawns set up for good
	// (the spawner's thread and its /dev/null, each daemon's log writer,
	// buffers, the heap's first growth).
	if err := sup.Start(names...); err != nil {
		t.Fatal(err)
	}
	wait(warmed, "the warm-up")
	if err := sup.Stop(names...); err != nil {
		t.Fatal(err)
	}
	for stopped := false; !stopped; {
		st, err := sup.Status(names...)
		if err != nil {
			t.Fatal(err)
		}
		stopped = true
		for _, d := range st.Daemons {
			stopped = stopped && d.State == Stopped && d.PID == 0
		}
		select {
		case <-timeout.C:
			t.Fatalf("the daemons did not stop: %+v", st)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := sup.SetProfile("idle"); err != nil {
		t.Fatal(err)
	}
	wait(marked, "the end of the warm-up")
	before := measure(t, logDir)
	t.Logf("before: %v", before)

	// The storm: --force resets every restart_count to 0.
	start := time.Now()
	if err := sup.Restart(true, names...); err != nil {
		t.Fatal(err)
	}
	for range names {
		wait(failed, "the storm")
	}
	elapsed := time.Since(start)

	st, err := sup.Status(names...)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for name, d := range st.Daemons {
		if d.State != Failed || d.RestartCount != perDaemon || d.PID != 0 {
			t.Errorf("%s: %s, restart_count %d, pid %d; want failed after %d restarts", name, d.State, d.RestartCount, d.PID, perDaemon)
		}
		sum += d.RestartCount
	}

	// Once the last exits are handled, their pipes' readers end: the
	// storm leaves nothing behind.
	var after usage
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = measure(t, logDir)
		if after.goroutines <= before.goroutines && after.fds <= before.fds && after.children == 0 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after %d crash-restart cycles across %d daemons in %v (%.0f/s): %v",
		sum, daemons, elapsed.Round(time.Millisecond), float64(sum)/elapsed.Seconds(), after)

	if after.children != 0 || after.zombies != 0 {
		t.Errorf("left %d children, %d of them zombies", after.children, after.zombies)
	}
	if after.goroutines != before.goroutines {
		t.Errorf("goroutines: %d before, %d after", before.goroutines, after.goroutines)
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
	if after.fds != before.fds {
		t.Errorf("descriptors other than log files: %d before, %d after: %v", before.fds, after.fds, after.fdTargets)
	}
	if after.logFDs > daemons {
		t.Errorf("%d log files open for %d daemons", after.logFDs, daemons)
	}
	// Under the race detector RSS also holds the detector's own state,
	// which grows with every goroutine started (each process's output
	// reader); the memory the Go runtime holds stands in for it there.
	growth := after.rssKB - before.rssKB
	if raceEnabled() {
		growth = after.goKB - before.goKB
	}
	if pct := 100 * float64(growth) / float64(before.rssKB); pct >= 10 {
		t.Errorf("RSS grew %.1f%%: %v -> %v", pct, before, after)
	}

	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v", err)
	}
	n := <-counted
	t.Logf("events: %v", n)
	// Every restart was announced, every process that ran exited once and
	// was seen to, and every daemon failed once.
	if n[DaemonRestarting] != sum {
		t.Errorf("%d DAEMON_RESTARTING events, restart_count sum %d", n[DaemonRestarting], sum)
	}
	if want := sum + daemons; n[DaemonStarted] != want || n[DaemonExited] != want {
		t.Errorf("%d DAEMON_STARTED and %d DAEMON_EXITED events, want %d of each", n[DaemonStarted], n[DaemonExited], want)
	}
	if n[DaemonFailed] != daemons {
		t.Errorf("%d DAEMON_FAILED events, want %d", n[DaemonFailed], daemons)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// usage is what the test process holds.
type usage struct {
	goroutines int
	fds        int // open descriptors, except log files
	logFDs     int // open descriptors of files in the log directory
	fdTargets  map[string]int
	rssKB      int64
	goKB       int64 // memory the Go runtime holds from the system
	children   int
	zombies    int
}

func (u usage) String() string {
	return fmt.Sprintf("goroutines %d, fds %d (+%d log files), RSS %d kB (Go runtime %d kB), children %d",
		u.goroutines, u.fds, u.logFDs, u.rssKB, u.goKB, u.children)
}

// measure returns what the process holds now, after a garbage collection
// that returns free memory to the system.
func measure(t *testing.T, logDir string) usage {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	u := usage{goroutines: runtime.NumGoroutine(), fdTargets: map[string]int{}}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir used, closed since
		}
		if strings.HasPrefix(target, logDir+"/") {
			u.logFDs++
			continue
		}
		u.fds++
		// pipe:[123] and socket:[456] differ each time: count the kinds.
		kind, _, _ := strings.Cut(target, ":[")
		u.fdTargets[kind]++
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	self := strconv.Itoa(os.Getpid())
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[1] == self {
			u.children++
			if f[0] == "Z" {
				u.zombies++
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u.goKB = int64(ms.Sys-ms.HeapReleased) >> 10
	return u
}
