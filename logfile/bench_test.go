package logfile

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// benchSize is how much the writer program of the benchmarks writes.
const benchSize = 256 << 20

// benchLine is the line the "lines" writers repeat: 80 bytes with its
// newline, like a typical log line.
const benchLine = "2024-05-01 12:00:00 INFO selfplay: game 1234 finished, 87 moves, winner=black"

// benchWriters are the writer programs of the benchmarks: shell commands
// that write benchSize bytes to their standard output as fast as they can.
var benchWriters = []struct{ name, cmd string }{
	{"zeros", fmt.Sprintf("head -c %d /dev/zero", benchSize)},
	{"lines", fmt.Sprintf("yes %q | head -c %d", benchLine, benchSize)},
}

// BenchmarkCapture measures capture throughput against a baseline: the same
// writer program run through procexec with its output captured by a Writer
// ("capture"), and piped to `cat > file` in the shell with no capture
// ("baseline"). Each iteration waits for the exit and for OutputDone, so
// every byte counted has reached the file, and checks the files' sizes.
//
//	go test -run=NONE -bench=. -count=5 ./logfile/
//
// The files go to the default temporary directory; TMPDIR=/dev/shm takes
// the disk out of the comparison.
func BenchmarkCapture(b *testing.B) {
	for _, bw := range benchWriters {
		for _, bb := range []struct {
			name string
			opts *Options // nil: the baseline
		}{
			{"baseline", nil},
			{"capture", &Options{}},
			{"capture-rotate", &Options{MaxSize: 10 << 20, MaxFiles: 5}},
			{"capture-timestamps", &Options{Timestamps: true}},
		} {
			if bw.name == "zeros" && bb.name == "capture-timestamps" {
				continue // one line of 256 MiB: nothing to stamp
			}
			b.Run(bw.name+"/"+bb.name, func(b *testing.B) {
				r := newBenchRunner(b)
				b.SetBytes(benchSize)
				for range b.N {
					b.StartTimer()
					r.run(bw.cmd, bb.opts)
				}
			})
		}
	}
}

// BenchmarkCaptureRatio runs the baseline and the capture of each writer
// back to back, ratioPairs times per iteration, so that both of a pair see
// the same load (on a busy machine consecutive sub-benchmarks are hard to
// compare), and reports the medians over the pairs: both throughputs and
// the capture's percentage of the baseline.
func BenchmarkCaptureRatio(b *testing.B) {
	const ratioPairs = 3
	for _, bw := range benchWriters {
		b.Run(bw.name, func(b *testing.B) {
			r := newBenchRunner(b)
			var base, capture, ratio []float64
			for range b.N {
				for range ratioPairs {
					b.StartTimer()
					tb := r.run(bw.cmd, nil)
					b.StartTimer()
					tc := r.run(bw.cmd, &Options{})
					base = append(base, benchSize/1e6/tb.Seconds())
					capture = append(capture, benchSize/1e6/tc.Seconds())
					ratio = append(ratio, 100*tb.Seconds()/tc.Seconds())
				}
			}
			b.ReportMetric(median(base), "baseline-MB/s")
			b.ReportMetric(median(capture), "capture-MB/s")
			b.ReportMetric(median(ratio), "%-of-baseline")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// median returns the median of x, which it sorts.
func median(x []float64) float64 {
	slices.Sort(x)
	if n := len(x); n%2 == 0 {
		return (x[n/2-1] + x[n/2]) / 2
	}
	return x[len(x)/2]
}

// benchRunner runs writer programs for a benchmark.
type benchRunner struct {
	b       *testing.B
	dir     string
	sp      *procexec.Spawner
	sigchld chan os.Signal
}

func newBenchRunner(b *testing.B) *benchRunner {
	r := &benchRunner{b: b, dir: b.TempDir(), sp: procexec.NewSpawner(), sigchld: make(chan os.Signal, 1)}
	signal.Notify(r.sigchld, syscall.SIGCHLD)
	b.Cleanup(func() {
		signal.Stop(r.sigchld)
		r.sp.Close()
	})
	b.StopTimer()
	b.ResetTimer()
	return r
}

// run runs cmd with its output captured by a Writer with opts, or, with nil
// opts, as `cmd | cat > file`, until it has exited and its output is all in
// the file, and returns how long that took. Then it stops the timer, checks
// the files and removes them.
func (r *benchRunner) run(cmd string, opts *Options) time.Duration {
	b := r.b
	path := filepath.Join(r.dir, "bench.log")
	var w *Writer
	spec := procexec.Spec{Argv: []string{"/bin/sh", "-c", cmd + " | cat > " + path}}
	if opts != nil {
		var err error
		if w, err = Open(path, *opts); err != nil {
			b.Fatal(err)
		}
		spec = procexec.Spec{Argv: []string{"/bin/sh", "-c", cmd}, Output: w}
	}
	start := time.Now()
	p, err := r.sp.Spawn(spec)
	if err != nil {
		b.Fatal(err)
	}
	if e := waitExit(b, p.PID, r.sigchld); !e.Success() {
		b.Fatalf("%s: %v", cmd, e)
	}
	<-p.OutputDone()
	b.StopTimer()
	elapsed := time.Since(start)
	if w != nil {
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchFiles(b, r.dir, path, opts)
	if err := removeLogs(r.dir); err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// checkBenchFiles checks that the files in dir hold benchSize bytes of
// output, plus timestamps when they are on. With rotation it checks that
// MaxFiles files were kept beside path, each filled to within a line of
// MaxSize.
func checkBenchFiles(b *testing.B, dir, path string, opts *Options) {
	b.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	if opts != nil && opts.MaxSize > 0 {
		if len(entries) != opts.MaxFiles+1 {
			b.Fatalf("%d files in %s, want %d", len(entries), dir, opts.MaxFiles+1)
		}
		for i := 1; i <= opts.MaxFiles; i++ {
			name := fmt.Sprintf("%s.%d", path, i)
			fi, err := os.Stat(name)
			if err != nil {
				b.Fatal(err)
			}
			if fi.Size() > opts.MaxSize || fi.Size() <= opts.MaxSize-int64(len(benchLine)+1) {
				b.Fatalf("size of %s = %d, want at most %d and at least a line less", name, fi.Size(), opts.MaxSize)
			}
		}
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	want := int64(benchSize)
	if opts != nil && opts.Timestamps {
		lines := (benchSize + len(benchLine)) / (len(benchLine) + 1) // the last one partial
		want += int64(lines) * int64(len("2006-01-02T15:04:05.000Z "))
	}
	if fi.Size() != want || len(entries) != 1 {
		b.Fatalf("size of %s = %d (of %d files), want %d (of 1)", path, fi.Size(), len(entries), want)
	}
}

// removeLogs removes every file in dir.
func removeLogs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// waitExit reaps children until pid has exited, and returns its exit. It
// waits for SIGCHLD between two Reaps, for a minute at most.
func waitExit(tb testing.TB, pid int, sigchld <-chan os.Signal) procexec.Exit {
	tb.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		exits, err := procexec.Reap()
		if err != nil {
			tb.Fatalf("Reap() = %v", err)
		}
		for _, e := range exits {
			if e.PID == pid {
				return e
			}
		}
		select {
		case <-sigchld:
		case <-deadline.C:
			tb.Fatalf("process %d has not exited after a minute", pid)
		}
	}
}
