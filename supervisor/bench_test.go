package supervisor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/procexec"
)

// benchConfig returns n daemons running /bin/sleep. With levels > 1 they
// form a DAG of that many levels: each daemon depends on two of the level
// before it.
func benchConfig(b *testing.B, n, levels int) *config.Config {
	b.Helper()
	var src strings.Builder
	fmt.Fprintf(&src, "[supervisor]\nlog_dir = %q\n", b.TempDir())
	per := n / levels
	for i := range n {
		fmt.Fprintf(&src, "[daemons.d%d]\ncommand = [\"/bin/sleep\", \"1000\"]\n", i)
		if level := i / per; level > 0 && level < levels {
			prev := (level-1)*per + i%per
			fmt.Fprintf(&src, "depends_on = [\"d%d\", \"d%d\"]\n", prev, (level-1)*per+(i+1)%per)
		}
	}
	cfg, err := config.Parse("bench.toml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// benchmarkStart measures launch → every daemon running.
func benchmarkStart(b *testing.B, n, levels int) {
	cfg := benchConfig(b, n, levels)
	for b.Loop() {
		b.StopTimer()
		sup, err := New(Options{Config: cfg, EventBuffer: 4 * n})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- sup.Run(ctx) }()
		events, _ := sup.Subscribe()
		// Subscribe is answered by the loop, so it sees every start that
		// happens after it; count those before it from Status.
		st, _ := sup.Status()
		running := 0
		for _, d := range st.Daemons {
			if d.State == Running {
				running++
			}
		}
		for running < n {
			if e := <-events; e.Type == DaemonStarted {
				running++
			}
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/daemon")
}

func BenchmarkStart1000Flat(b *testing.B)    { benchmarkStart(b, 1000, 1) }
func BenchmarkStart1000DAG10(b *testing.B)   { benchmarkStart(b, 1000, 10) }
func BenchmarkBareForkExec1000(b *testing.B) { benchmarkBare(b, 1000) }

// benchmarkBare is the floor: a plain loop of fork/exec of the same child
// with the same attributes (own process group, parent-death signal), and no
// supervisor.
func benchmarkBare(b *testing.B, n int) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	pids := make([]int, 0, n)
	for b.Loop() {
		pids = pids[:0]
		for range n {
			pid, err := syscall.ForkExec("/bin/sleep", []string{"/bin/sleep", "1000"}, attr)
			if err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		b.StopTimer()
		for _, pid := range pids {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		for reaped := 0; reaped < n; {
			exits, _ := procexec.Reap()
			reaped += len(exits)
			if len(exits) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/daemon")
}
