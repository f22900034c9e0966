package cluster

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/internal/etcdtest"
	"github.com/ringrift/ringsup/supervisor"
)

// fakeSupervisor stands for a node's supervisor in the publication
// benchmark: daemons that run until flap gives one a new process.
type fakeSupervisor struct {
	mu      sync.Mutex
	daemons map[string]supervisor.DaemonStatus
	events  chan supervisor.Event
	done    chan struct{}
}

func newFakeSupervisor(n int) *fakeSupervisor {
	f := &fakeSupervisor{daemons: make(map[string]supervisor.DaemonStatus), events: make(chan supervisor.Event, 1024), done: make(chan struct{})}
	for i := range n {
		f.daemons[fmt.Sprintf("d%03d", i)] = supervisor.DaemonStatus{State: supervisor.Running, PID: 1000 + i, Health: "none", DependsOn: []string{}}
	}
	return f
}

func (f *fakeSupervisor) Subscribe() (<-chan supervisor.Event, func()) { return f.events, func() {} }
func (f *fakeSupervisor) Start(...string) error                        { return nil }
func (f *fakeSupervisor) Stop(...string) error                         { return nil }
func (f *fakeSupervisor) Restart(bool, ...string) error                { return nil }
func (f *fakeSupervisor) Done() <-chan struct{}                        { return f.done }

func (f *fakeSupervisor) Status(...string) (supervisor.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := supervisor.Status{Daemons: make(map[string]supervisor.DaemonStatus, len(f.daemons))}
	for name, d := range f.daemons {
		st.Daemons[name] = d
	}
	return st, nil
}

// flap gives daemon i a new process, with the events of a crash and a
// restart.
func (f *fakeSupervisor) flap(i int) {
	name := fmt.Sprintf("d%03d", i%len(f.daemons))
	f.mu.Lock()
	d := f.daemons[name]
	d.PID += 100000
	d.RestartCount++
	f.daemons[name] = d
	f.mu.Unlock()
	now := float64(time.Now().UnixNano()) / 1e9
	code := 1
	f.events <- supervisor.Event{Type: supervisor.DaemonExited, Timestamp: now, Daemon: name, ExitCode: &code}
	f.events <- supervisor.Event{Type: supervisor.DaemonStarted, Timestamp: now, Daemon: name, PID: d.PID}
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublication runs 100 nodes of 100 daemons each, in this
// process with stand-in supervisors, against a 3-member etcd on loopback,
// and measures etcd's writes a second (revisions; lease renewals make
// none) when nothing changes and while each node flaps one daemon a
// second, and the CPU the 100 nodes use when nothing changes (renewals
// only: TTL 10s, one every 1.25 s a node).
func BenchmarkPublication(b *testing.B) {
	const nodes, daemons = 100, 100
	const window = 10 * time.Second
	etcd := etcdtest.Start(b, 3)
	cli, err := Dial(&config.Cluster{Endpoints: etcd.Endpoints(), DialTimeout: 2 * time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sups []*fakeSupervisor
	for i := range nodes {
		sup := newFakeSupervisor(daemons)
		sups = append(sups, sup)
		n, err := New(Options{
			Cluster: &config.Cluster{Endpoints: etcd.Endpoints(), Node: fmt.Sprintf("n%03d", i), Prefix: "/bench",
				TTL: 10 * time.Second, DialTimeout: 5 * time.Second},
			Supervisor: sup,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Register(ctx); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Run(ctx)
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	rev := func() int64 {
		resp, err := cli.Get(context.Background(), "/bench/none")
		if err != nil {
			b.Fatal(err)
		}
		return resp.Header.Revision
	}
	// Wait until every status is published and writing stops.
	for last := int64(-1); ; {
		time.Sleep(2 * time.Second)
		r := rev()
		if r == last {
			break
		}
		last = r
	}
	for b.Loop() {
		r0, c0 := rev(), cpuTime()
		time.Sleep(window)
		r1, c1 := rev(), cpuTime()
		b.ReportMetric(float64(r1-r0)/window.Seconds(), "writes/s-idle")
		b.ReportMetric(100*float64(c1-c0)/float64(window)/nodes, "%core/node-idle")

		stop := make(chan struct{})
		var fw sync.WaitGroup
		for _, s := range sups {
			fw.Add(1)
			go func() {
				defer fw.Done()
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-t.C:
						s.flap(i)
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)
		r0 = rev()
		time.Sleep(window)
		r1 = rev()
		close(stop)
		fw.Wait()
		b.ReportMetric(float64(r1-r0)/window.Seconds(), "writes/s-flap")
	}
}
