package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRSS1000 runs ringsup with 1000 long-running daemons and reports
// the supervisor's resident memory once all of them run (metric RSS-MiB),
// and the time from launch until then (metric start-s).
func BenchmarkRSS1000(b *testing.B) {
	const n = 1000
	dir := b.TempDir()
	var src strings.Builder
	for i := range n {
		fmt.Fprintf(&src, "[daemons.d%d]\ncommand = [\"/bin/sleep\", \"1000\"]\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	var rss, secs float64
	for b.Loop() {
		start := time.Now()
		r := startRingsup(b, dir, "--log-level", "warn")
		for len(childrenOf(r.pid)) < n {
			if procState(r.pid) == 0 || time.Since(start) > time.Minute {
				b.Fatalf("ringsup did not start %d daemons:\n%s", n, r.output)
			}
			time.Sleep(20 * time.Millisecond)
		}
		secs += time.Since(start).Seconds()
		rss += float64(vmRSS(b, r.pid)) / (1 << 20)
		syscall.Kill(r.pid, syscall.SIGTERM)
		r.wait(time.Minute)
	}
	b.ReportMetric(rss/float64(b.N), "RSS-MiB")
	b.ReportMetric(secs/float64(b.N), "start-s")
}

// vmRSS returns the resident set size of pid in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkReload1000 runs ringsup with 1000 daemons and measures, for one
// changed command, from the new file being renamed into place to the
// changed daemon running with a new pid (metric ms/reload; the median of
// the iterations is in the log). It checks that the other daemons keep
// their pids.
func BenchmarkReload1000(b *testing.B) {
	const n = 1000
	dir := b.TempDir()
	config := func(version int) string {
		var src strings.Builder
		fmt.Fprintf(&src, "[daemons.changed]\ncommand = \"echo %d > changed.version; echo $$ > changed.pid; exec sleep 1000\"\n", version)
		for i := range n - 1 {
			fmt.Fprintf(&src, "[daemons.d%d]\ncommand = [\"/bin/sleep\", \"1000\"]\n", i)
		}
		return src.String()
	}
	path := filepath.Join(dir, "ringsup.toml")
	if err := os.WriteFile(path, []byte(config(0)), 0o644); err != nil {
		b.Fatal(err)
	}
	r := startRingsup(b, dir, "--log-level", "warn")
	defer func() {
		syscall.Kill(r.pid, syscall.SIGTERM)
		r.wait(time.Minute)
	}()
	eventually(b, time.Minute, "all daemons run", func() bool { return len(childrenOf(r.pid)) >= n })
	before := childrenOf(r.pid)
	var times []time.Duration
	version := 0
	for b.Loop() {
		version++
		old := readPID(b, filepath.Join(dir, "changed.pid"))
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(config(version)), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		want := strconv.Itoa(version)
		for {
			v, _ := os.ReadFile(filepath.Join(dir, "changed.version"))
			if strings.TrimSpace(string(v)) == want {
				if pid := readPID(b, filepath.Join(dir, "changed.pid")); pid != old {
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("reload %d not applied:\n%s", version, r.output)
			}
			time.Sleep(time.Millisecond)
		}
		times = append(times, time.Since(start))
	}
	after := childrenOf(r.pid)
	if kept := len(intersect(before, after)); kept != n-1 {
		b.Errorf("%d of the %d unchanged daemons kept their pid", kept, n-1)
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
