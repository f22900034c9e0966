package health

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkTCP1000 runs 1000 tcp probes per iteration, each on a goroutine
// of its own that sends its result to a channel, as the supervisor's loop
// will, against a server in another process (its CPU time is not counted).
// cpu-µs/probe is the CPU time of the whole test process (user and system,
// every thread, the garbage collector included) per probe; at 1000 probes a
// second, %core is the share of one core that costs.
func BenchmarkTCP1000(b *testing.B) {
	addr := startServer(b, "tcp-server")
	p := NewProber()
	benchProbes(b, func(ctx context.Context) error { return p.TCP(ctx, addr, 5*time.Second) })
}

// BenchmarkHTTP1000 is BenchmarkTCP1000 with http probes.
func BenchmarkHTTP1000(b *testing.B) {
	url := "http://" + startServer(b, "http-server") + "/health"
	p := NewProber()
	benchProbes(b, func(ctx context.Context) error { return p.HTTP(ctx, url, 5*time.Second) })
}

func benchProbes(b *testing.B, probe func(context.Context) error) {
	const n = 1000
	ctx := b.Context()
	results := make(chan error)
	before := cpuTime(b)
	for b.Loop() {
		for range n {
			go func() { results <- probe(ctx) }()
		}
		for range n {
			if err := <-results; err != nil {
				b.Fatal(err)
			}
		}
	}
	after := cpuTime(b)
	perProbe := float64((after.total() - before.total()).Microseconds()) / float64(b.N*n)
	b.ReportMetric(perProbe, "cpu-µs/probe")
	b.ReportMetric(float64((after.sys-before.sys).Microseconds())/float64(b.N*n), "sys-µs/probe")
	b.ReportMetric(perProbe*n/1e6*100, "%core")
}

// cpu is the CPU time a process has used.
type cpu struct{ user, sys time.Duration }

func (c cpu) total() time.Duration { return c.user + c.sys }

// cpuTime is the CPU time the test process has used.
func cpuTime(b *testing.B) cpu {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return cpu{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// BenchmarkTCPPaced is the target load itself: tcp probes at 1000 a second
// for a second per iteration, each on its own goroutine reporting to this
// loop, started in batches of 1 every millisecond, 10 every 10ms or 100
// every 100ms. %core is the CPU time of the process over the wall time: the
// share of one core that the probes, the goroutines, the timer and the loop
// cost together. Waking up costs as much as a probe: batching is the
// supervisor's lever.
func BenchmarkTCPPaced(b *testing.B) {
	addr := startServer(b, "tcp-server")
	p := NewProber()
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := b.Context()
			results := make(chan error, 1000)
			before, started := cpuTime(b), time.Now()
			probes := 0
			for b.Loop() {
				tick := time.NewTicker(time.Duration(batch) * time.Millisecond)
				pending := 0
				for sent := 0; sent < 1000 || pending > 0; {
					select {
					case <-tick.C:
						for i := 0; i < batch && sent < 1000; i++ {
							sent++
							pending++
							go func() { results <- p.TCP(ctx, addr, 5*time.Second) }()
						}
					case err := <-results:
						pending--
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				tick.Stop()
				probes += 1000
			}
			cpu, wall := cpuTime(b).total()-before.total(), time.Since(started)
			b.ReportMetric(float64(cpu.Microseconds())/float64(probes), "cpu-µs/probe")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
		})
	}
}

// BenchmarkTCPFloor1000 is the part of a tcp probe that no prober can avoid:
// socket, a blocking connect and close, as bare system calls on one thread,
// 1000 times per iteration: closed with a FIN (close=fin) and, as the
// Prober does so as to leave no TIME_WAIT socket behind, with a reset
// (close=rst).
// Over loopback the kernel handles both ends of the handshake in the
// caller's system calls, so this is most of a probe's CPU time.
func BenchmarkTCPFloor1000(b *testing.B) {
	ap, err := netip.ParseAddrPort(startServer(b, "tcp-server"))
	if err != nil {
		b.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	for _, rst := range []bool{false, true} {
		b.Run(map[bool]string{false: "close=fin", true: "close=rst"}[rst], func(b *testing.B) {
			before := cpuTime(b)
			for b.Loop() {
				for range 1000 {
					fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
					if err != nil {
						b.Fatal(err)
					}
					if rst {
						if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
							b.Fatal(err)
						}
					}
					if err := unix.Connect(fd, sa); err != nil {
						b.Fatal(err)
					}
					unix.Close(fd)
				}
			}
			b.ReportMetric(float64((cpuTime(b).total()-before.total()).Microseconds())/float64(b.N*1000), "cpu-µs/probe")
		})
	}
}
