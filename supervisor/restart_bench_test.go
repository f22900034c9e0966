package supervisor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/procexec"
)

// BenchmarkRestart measures the loop's round of one restart among n
// running daemons: a process killed with SIGKILL, its exit reaped, logged
// (at WARN, as `ringsup --log-level warn` logs it, into io.Discard) and
// fed to step, and its replacement spawned, until DAEMON_STARTED reaches a
// subscriber. The processes are the fake runtime's, so what it measures is
// the supervisor's own work, and how it grows with n. Each daemon is
// killed in turn, as often as b.N asks: max_restarts is set out of reach.
//
// In the cold runs, 16 MiB are written between two kills (not timed), so
// that the loop finds its data out of the caches, as it does in real use
// after sleeping between exits while other processes ran.
func BenchmarkRestart(b *testing.B) {
	for _, cold := range []bool{false, true} {
		for _, n := range []int{10, 100, 500, 1000} {
			name := fmt.Sprintf("hot/n=%d", n)
			if cold {
				name = fmt.Sprintf("cold/n=%d", n)
			}
			b.Run(name, func(b *testing.B) { benchRestart(b, n, cold) })
		}
	}
}

func benchRestart(b *testing.B, n int, cold bool) {
	var sweep []byte
	if cold {
		sweep = make([]byte, 16<<20)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "[supervisor]\nlog_dir = %q\nbackoff_min = \"0s\"\n", b.TempDir())
	for i := range n {
		fmt.Fprintf(&src, "[daemons.d%04d]\ncommand = [\"d\"]\nmax_restarts = 1000000000\n", i)
	}
	cfg, err := config.Parse("bench.toml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	rt := newFakeRuntime()
	log := hclog.New(&hclog.LoggerOptions{Name: "ringsup", Level: hclog.Warn, Output: io.Discard})
	sup, err := New(Options{Config: cfg, Runtime: rt, Logger: log, EventBuffer: 4 * n})
	if err != nil {
		b.Fatal(err)
	}
	events, _ := sup.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	pids := make(map[string]int, n)
	for len(pids) < n {
		if e := <-events; e.Type == DaemonStarted {
			pids[e.Daemon] = e.PID
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("d%04d", i%n)
		if cold {
			b.StopTimer()
			for j := range sweep {
				sweep[j]++
			}
			b.StartTimer()
		}
		rt.mu.Lock()
		rt.exitLocked(pids[name], procexec.Exit{PID: pids[name], Code: -1, Signal: syscall.SIGKILL})
		rt.mu.Unlock()
		for {
			e := <-events
			if e.Type == DaemonStarted && e.Daemon == name {
				pids[name] = e.PID
				break
			}
		}
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
