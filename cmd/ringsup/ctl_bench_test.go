package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/procexec"
	"github.com/ringrift/ringsup/supervisor"
)

// BenchmarkCtlStatusJSON1000 runs ringsup with 1000 daemons and measures
// `ringsup ctl status --json` (json) and `ringsup ctl status` (table):
// in-process, the whole command (flags,
// connect, request, answer, JSON indented to the output) without process
// start-up; process, the command run as a new process, until its output
// ends. Metric ms-median is the median.
func BenchmarkCtlStatusJSON1000(b *testing.B) {
	const daemons = 1000
	quickRaceExit(b)
	dir := b.TempDir()
	var src strings.Builder
	for i := range daemons {
		fmt.Fprintf(&src, "[daemons.d%04d]\ncommand = [\"/bin/sleep\", \"1000\"]\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	r := startRingsup(b, dir, "--log-level", "warn")
	defer stopRingsup(b, r)
	sock := filepath.Join(dir, "ringsup.sock")
	client := &control.Client{Path: sock}
	eventually(b, 2*time.Minute, "every daemon running", func() bool {
		st, err := client.Status(b.Context())
		running := 0
		for _, d := range st.Daemons {
			if d.State == supervisor.Running {
				running++
			}
		}
		return err == nil && running == daemons
	})
	for _, format := range []string{"json", "table"} {
		args := []string{"ctl", "--socket", sock, "status"}
		if format == "json" {
			args = append(args, "--json")
		}
		b.Run(format, func(b *testing.B) { benchCommand(b, dir, args, daemons*50) })
	}
}

// benchCommand runs the ringsup command args (without "ringsup") as
// sub-benchmarks: in-process, the whole command (flags, connect, request,
// answer, output) without process start-up; process, the command run as
// a new process until its output ends, which must be at least minOut
// bytes: the test binary, or the binary $RINGSUP_BENCH_BINARY names (a
// release build of scripts/build.sh). Metric ms-median is the median.
func benchCommand(b *testing.B, dir string, args []string, minOut int) {
	b.Run("in-process", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			start := time.Now()
			err := run(b.Context(), append([]string{"ringsup"}, args...), io.Discard, io.Discard)
			times = append(times, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
		reportMedian(b, times)
	})
	b.Run("process", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			out := &countWriter{}
			start := time.Now()
			p, err := spawner().Spawn(procexec.Spec{
				Argv:   append([]string{cmp.Or(os.Getenv("RINGSUP_BENCH_BINARY"), os.Args[0])}, args...),
				Dir:    dir,
				Env:    map[string]string{"RINGSUP_TEST_AS_MAIN": "1"},
				Output: out,
			})
			if err != nil {
				b.Fatal(err)
			}
			<-p.OutputDone() // the process has exited, or closed its output
			times = append(times, time.Since(start))
			if x := waitExit(b, p.PID, 10*time.Second); x.Code != 0 || out.n < minOut {
				b.Fatalf("ringsup %s: %v, %d bytes", strings.Join(args, " "), x, out.n)
			}
		}
		reportMedian(b, times)
	})
}

// countWriter counts the bytes written to it. Only the output goroutine of
// the process writes, and the benchmark reads after OutputDone.
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// reportMedian reports the median of times as metric ms-median.
func reportMedian(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/float64(time.Millisecond), "ms-median")
}
