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

	"github.com/ringrift/ringsup/procexec"
)

// BenchmarkProbeCPU runs ringsup with 1000 daemons, each probed by a
// health check, and reports the supervisor's CPU use over a window once
// they all run, as a percentage of one core (metric cpu-%): tcp probes every
// second against a local listener, and exec probes (/bin/true) every 10s.
//
// For tcp, a floor process makes the same 1000 probes a second with bare
// system calls during the same window (floor-cpu-%, and x-floor the ratio):
// over loopback the kernel works both ends of every handshake in the
// prober's system calls, which is most of the cost and no prober avoids.
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
		floor        bool
	}{
		{"tcp-1s", fmt.Sprintf("tcp = %q\ninterval = \"1s\"", ln.Addr()), 10 * time.Second, true},
		{"exec-10s", "exec = [\"/bin/true\"]\ninterval = \"10s\"", 20 * time.Second, false},
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
			var pct, floorPct float64
			for b.Loop() {
				r := startRingsup(b, dir, "--log-level", "warn")
				eventually(b, 2*time.Minute, "all daemons run", func() bool { return len(childrenOf(r.pid)) >= n })
				floor := 0
				if tc.floor {
					floor = startFloor(b, ln.Addr().String())
				}
				time.Sleep(3 * time.Second) // past the first probes' burst
				t0, c0, f0 := time.Now(), cpuTicks(b, r.pid), cpuTicks(b, floor)
				time.Sleep(tc.window)
				secs := time.Since(t0).Seconds()
				pct += float64(cpuTicks(b, r.pid)-c0) / secs // USER_HZ = 100: ticks/s are %
				floorPct += float64(cpuTicks(b, floor)-f0) / secs
				if floor != 0 {
					stopFloor(b, floor)
				}
				syscall.Kill(r.pid, syscall.SIGTERM)
				r.wait(time.Minute)
			}
			b.ReportMetric(pct/float64(b.N), "cpu-%")
			if tc.floor {
				b.ReportMetric(floorPct/float64(b.N), "floor-cpu-%")
				b.ReportMetric(pct/floorPct, "x-floor")
			}
		})
	}
}

// startFloor starts the tcp probe floor (tcpFloor) against addr and
// returns its pid.
func startFloor(b *testing.B, addr string) int {
	p, err := spawner().Spawn(procexec.Spec{
		Argv: []string{os.Args[0]},
		Env:  map[string]string{"RINGSUP_TEST_DAEMON": "tcp-floor", "PROBE_ADDR": addr},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopFloor(b, p.PID) })
	return p.PID
}

// stopFloor kills the floor process and reaps it.
func stopFloor(b *testing.B, pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	eventually(b, 10*time.Second, "the floor is reaped", func() bool {
		procexec.Reap()
		return procState(pid) == 0
	})
}

// cpuTicks returns utime+stime of pid, in clock ticks; 0 for pid 0.
func cpuTicks(b *testing.B, pid int) int64 {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}
