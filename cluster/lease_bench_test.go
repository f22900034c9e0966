package cluster

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/internal/etcdtest"
)

// leaseWatch renews one lease the way a node's keeper does (every TTL/8,
// each renewal bounded by TTL/4, hedged over every member) and records
// the longest time between the send times of two successful renewals:
// how long the lease went unrenewed, the figure a singleton's stop
// deadline (D − stop_timeout − 0.25s) must stay above.
type leaseWatch struct {
	cli *clientv3.Client
	r   *renewer
	ttl time.Duration

	mu       sync.Mutex
	id       clientv3.LeaseID
	lastSent time.Duration
	longest  time.Duration // since the last take
	revoked  int           // renewals that found the lease gone
}

func startLeaseWatch(b *testing.B, endpoints []string, ttl time.Duration) *leaseWatch {
	b.Helper()
	c := &config.Cluster{Endpoints: endpoints, TTL: ttl, DialTimeout: 2 * time.Second}
	cli, err := Dial(c, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	w := &leaseWatch{cli: cli, r: &renewer{}, ttl: ttl}
	for _, ep := range endpoints {
		one, err := Dial(c, []string{ep})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { one.Close() })
		w.r.clients = append(w.r.clients, one)
	}
	if err := w.grant(b); err != nil {
		b.Fatal(err)
	}
	return w
}

// grant takes a new lease, after the last was found gone.
func (w *leaseWatch) grant(b *testing.B) error {
	sent := Now()
	g, err := w.cli.Grant(b.Context(), int64(w.ttl/time.Second))
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.id, w.lastSent = g.ID, sent
	w.mu.Unlock()
	return nil
}

// run renews until done is closed.
func (w *leaseWatch) run(b *testing.B, done <-chan struct{}) {
	for {
		start := time.Now()
		w.mu.Lock()
		id := w.id
		w.mu.Unlock()
		l, err := w.r.renew(b.Context(), id, w.ttl/4)
		switch {
		case err == nil:
			sent := l.Deadline - l.TTL
			w.mu.Lock()
			w.longest = max(w.longest, sent-w.lastSent)
			w.lastSent = sent
			w.mu.Unlock()
		case errors.Is(err, errLeaseGone):
			// Renewed within its TTL, yet gone: revoked early.
			w.mu.Lock()
			w.revoked++
			w.mu.Unlock()
			_ = w.grant(b)
		}
		select {
		case <-done:
			return
		case <-time.After(max(0, w.ttl/8-time.Since(start))):
		}
	}
}

// take returns the longest unrenewed time since the last take.
func (w *leaseWatch) take() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.longest
	w.longest = 0
	return d
}

// memberSettings are the etcd settings the lease benchmarks compare: the
// singleton tests' members, and etcd's defaults with and without
// pre-vote (the default from 3.5 on).
var memberSettings = []struct {
	name string
	opts etcdtest.Options
}{
	{"election=500ms,pre-vote", etcdtest.Options{Heartbeat: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond, PreVote: true}},
	{"election=1s,pre-vote", etcdtest.Options{Heartbeat: 100 * time.Millisecond, ElectionTimeout: time.Second, PreVote: true}},
	{"election=1s", etcdtest.Options{Heartbeat: 100 * time.Millisecond, ElectionTimeout: time.Second}},
}

// BenchmarkLeaseLeaderLoss measures how long a node's 4s lease goes
// unrenewed when the etcd leader is lost, for three settings of the
// members: each iteration SIGKILLs the leader for 3s (then restarts
// it), then SIGSTOPs the new leader for 3s (then continues it). It
// reports the longest and the median unrenewed time over every fault;
// with a 4s TTL and a 1s stop_timeout, a singleton stops its copy past
// 2.75s. It also counts the leases revoked early (none should be: each
// freeze is shorter than the TTL).
//
//	go test -run '^$' -bench LeaseLeaderLoss -benchtime 8x ./cluster
func BenchmarkLeaseLeaderLoss(b *testing.B) {
	const ttl, hold = 4 * time.Second, 3 * time.Second
	for _, c := range memberSettings {
		b.Run(c.name, func(b *testing.B) {
			etcd := etcdtest.StartWith(b, 3, c.opts)
			w := startLeaseWatch(b, etcd.Endpoints(), ttl)
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { w.run(b, done) })
			var gaps []time.Duration
			fault := func(end, restore func()) {
				end()
				time.Sleep(hold) // the fault lasts hold: nothing to wait for
				restore()
				etcd.WaitHealthy(60 * time.Second)
				time.Sleep(time.Second) // a few renewals through the new leader
				gaps = append(gaps, w.take())
			}
			for b.Loop() {
				l := etcd.Leader()
				fault(l.Kill, l.Restart)
				l = etcd.Leader()
				fault(l.Stop, l.Cont)
			}
			close(done)
			wg.Wait()
			slices.Sort(gaps)
			b.ReportMetric(gaps[len(gaps)-1].Seconds(), "max-unrenewed-s")
			b.ReportMetric(gaps[len(gaps)/2].Seconds(), "median-unrenewed-s")
			b.ReportMetric(float64(w.revoked), "early-revocations")
		})
	}
}

// BenchmarkLeaseStaleLeader counts the leases an etcd leader revokes
// early when it is frozen for longer than their TTL and then continued:
// before it hears of its successor it may revoke every lease it sees
// expired (etcd-io/etcd#15247), though the lease was renewed through the
// other members all along. Each iteration SIGSTOPs the leader for TTL +
// 1s (4s + 1s) and continues it, for each of memberSettings.
//
//	go test -run '^$' -bench LeaseStaleLeader -benchtime 6x ./cluster
func BenchmarkLeaseStaleLeader(b *testing.B) {
	const ttl = 4 * time.Second
	for _, c := range memberSettings {
		b.Run(c.name, func(b *testing.B) {
			etcd := etcdtest.StartWith(b, 3, c.opts)
			w := startLeaseWatch(b, etcd.Endpoints(), ttl)
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { w.run(b, done) })
			for b.Loop() {
				l := etcd.Leader()
				l.Stop()
				time.Sleep(ttl + time.Second) // the freeze lasts that long: nothing to wait for
				l.Cont()
				etcd.WaitHealthy(60 * time.Second)
				time.Sleep(time.Second) // the stale leader's revocations, if any, land
			}
			close(done)
			wg.Wait()
			b.ReportMetric(float64(w.revoked)/float64(b.N), "early-revocations/op")
		})
	}
}
