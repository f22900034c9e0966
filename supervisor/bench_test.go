package supervisor

import (
	"context"
	"fmt"
	"os"
	"slices"
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

// startOnce runs cfg until every daemon is running, shuts it down, and
// returns the time from Run to all running.
func startOnce(b *testing.B, cfg *config.Config, n int) time.Duration {
	sup, err := New(Options{Config: cfg, EventBuffer: 4 * n})
	if err != nil {
		b.Fatal(err)
	}
	events, _ := sup.Subscribe() // before Run: sees every start
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- sup.Run(ctx) }()
	for running := 0; running < n; {
		if e := <-events; e.Type == DaemonStarted {
			running++
		}
	}
	elapsed := time.Since(t0)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// BenchmarkStart1000 starts 1000 /bin/sleep daemons, flat and in a 10-level
// DAG, and the same 1000 children with a bare fork/exec loop, interleaved
// in each iteration so that a noisy machine affects all three alike. It
// reports the medians and the ratios to the bare loop.
func BenchmarkStart1000(b *testing.B) {
	const n = 1000
	flat, dag := benchConfig(b, n, 1), benchConfig(b, n, 10)
	var bare, tFlat, tDAG []time.Duration
	for b.Loop() {
		bare = append(bare, bareOnce(b, n))
		tFlat = append(tFlat, startOnce(b, flat, n))
		tDAG = append(tDAG, startOnce(b, dag, n))
	}
	mb, mf, md := median(bare), median(tFlat), median(tDAG)
	b.ReportMetric(mb.Seconds(), "bare-s")
	b.ReportMetric(mf.Seconds(), "flat-s")
	b.ReportMetric(md.Seconds(), "dag-s")
	b.ReportMetric(float64(mf)/float64(mb), "flat/bare")
	b.ReportMetric(float64(md)/float64(mb), "dag/bare")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// bareOnce is the floor: a plain loop of fork/exec of the same child with
// the same attributes (own process group, parent-death signal), and no
// supervisor. It returns the time to fork/exec n children, then kills and
// reaps them.
func bareOnce(b *testing.B, n int) time.Duration {
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
	t0 := time.Now()
	for range n {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"/bin/sleep", "1000"}, attr)
		if err != nil {
			b.Fatal(err)
		}
		pids = append(pids, pid)
	}
	elapsed := time.Since(t0)
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
	return elapsed
}

// BenchmarkStartInstances1000 starts one daemon with 1000 instances and
// 1000 daemons of the same command, interleaved in each iteration so that
// a noisy machine affects both alike (in turn first). An instance is a daemon to the
// loop, so the two should take the same time; it reports the medians and
// their ratio.
func BenchmarkStartInstances1000(b *testing.B) {
	const n = 1000
	daemons := benchConfig(b, n, 1)
	cfg, err := config.Parse("bench.toml", fmt.Appendf(nil,
		"[supervisor]\nlog_dir = %q\n[daemons.d]\ncommand = [\"/bin/sleep\", \"1000\"]\ninstances = %d\n", b.TempDir(), n))
	if err != nil {
		b.Fatal(err)
	}
	var tDaemons, tInstances []time.Duration
	for i := 0; b.Loop(); i++ {
		// Each goes first every other time: the first of a pair pays
		// for the teardown of the 1000 processes before it.
		if i%2 == 0 {
			tDaemons = append(tDaemons, startOnce(b, daemons, n))
		}
		tInstances = append(tInstances, startOnce(b, cfg, n))
		if i%2 == 1 {
			tDaemons = append(tDaemons, startOnce(b, daemons, n))
		}
	}
	md, mi := median(tDaemons), median(tInstances)
	b.ReportMetric(md.Seconds(), "daemons-s")
	b.ReportMetric(mi.Seconds(), "instances-s")
	b.ReportMetric(float64(mi)/float64(md), "instances/daemons")
}
