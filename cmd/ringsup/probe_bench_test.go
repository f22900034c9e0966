package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProbeCPU runs ringsup with 1000 daemons, each probed by a
// health check, and reports the supervisor's CPU use over a window once
// they all run, as a percentage of one core (metric cpu-%): tcp probes every
// second against a local listener, and exec probes (/bin/true) every 10s.
func BenchmarkProbeCPU(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name, health string
		window       time.Duration
	}{
		{"tcp-1s", fmt.Sprintf("tcp = %q\ninterval = \"1s\"", ln.Addr()), 10 * time.Second},
		{"exec-10s", "exec = [\"/bin/true\"]\ninterval = \"10s\"", 20 * time.Second},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 1000
			dir := b.TempDir()
			var src strings.Builder
			for i := range n {
				fmt.Fprintf(&src, "[daemons.d%d]\ncommand = [\"/bin/sleep\", \"1000\"]\n[daemons.d%d.health]\n%s\nretries = 1000\n", i, i, tc.health)
			}
			if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(src.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			var pct float64
			for b.Loop() {
				r := startRingsup(b, dir, "--log-level", "warn")
				eventually(b, 2*time.Minute, "all daemons run", func() bool { return len(childrenOf(r.pid)) >= n })
				time.Sleep(3 * time.Second) // past the first probes' burst
				t0, c0 := time.Now(), cpuTicks(b, r.pid)
				time.Sleep(tc.window)
				ticks := cpuTicks(b, r.pid) - c0
				pct += 100 * float64(ticks) / 100 / time.Since(t0).Seconds() // USER_HZ = 100
				syscall.Kill(r.pid, syscall.SIGTERM)
				r.wait(time.Minute)
			}
			b.ReportMetric(pct/float64(b.N), "cpu-%")
		})
	}
}

// cpuTicks returns utime+stime of pid, in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}
