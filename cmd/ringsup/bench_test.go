package main

import (
	"fmt"
	"os"
	"path/filepath"
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
