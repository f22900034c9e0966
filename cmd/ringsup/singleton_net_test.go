package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/etcdtest"
	"github.com/ringrift/ringsup/internal/tcpproxy"
)

// singletonElection is the election timeout of singletonEtcd's members.
const singletonElection = 500 * time.Millisecond

// singletonEtcd starts the 3 etcd members of a singleton test: with
// pre-vote (etcd 3.5's default), so that a member that rejoins does not
// depose the leader, and a 500 ms election timeout (50 ms heartbeats), so
// that losing the leader leaves a lease unrenewed for 0.65-1.65 s
// (measured on this loaded machine), well within the 2.75 s a 4 s TTL and
// a 1 s stop_timeout allow; with etcd's default 1 s it was 1.5-2.7 s, and
// up to 3.65 s without pre-vote.
func singletonEtcd(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	return etcdtest.StartWith(t, 3, etcdtest.Options{
		Heartbeat:       singletonElection / 10,
		ElectionTimeout: singletonElection,
		PreVote:         true,
	})
}

// proxyTo returns a proxy of the test to each of endpoints.
func proxyTo(t *testing.T, endpoints []string) []*tcpproxy.Proxy {
	t.Helper()
	var ps []*tcpproxy.Proxy
	for _, ep := range endpoints {
		p, err := tcpproxy.Listen("127.0.0.1:0", ep)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		ps = append(ps, p)
	}
	return ps
}

// settled waits until every node of names is up in etcd and shows the
// trainer running on holder alone, every other node stopped with holder
// as its owner, asking through the node cfg.
func settled(t *testing.T, cfg, holder string, names []string) {
	t.Helper()
	var last string
	deadline := 30 * time.Second
	start := time.Now()
	for {
		st, err := clusterState(t, cfg)
		if err == nil {
			var bad []string
			for _, n := range names {
				d, ok := daemonOf(st, n, "trainer")
				switch {
				case !st.Nodes[n].Up || !ok:
					bad = append(bad, n+" not registered")
				case n == holder && d.State != "running":
					bad = append(bad, fmt.Sprintf("%s (the holder) %s", n, d.State))
				case n != holder && d.State != "stopped":
					bad = append(bad, fmt.Sprintf("%s %s", n, d.State))
				case d.Singleton == nil || d.Singleton.Owner != holder:
					bad = append(bad, fmt.Sprintf("%s sees owner %+v", n, d.Singleton))
				}
			}
			if len(bad) == 0 {
				return
			}
			last = strings.Join(bad, "; ")
		} else {
			last = err.Error()
		}
		if time.Since(start) > deadline {
			t.Fatalf("the cluster did not settle with %s the only holder of trainer within %v: %s", holder, deadline, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lostCount is how many SINGLETON_LOST of the trainer n's log shows.
func lostCount(n *clusterNode) int {
	return strings.Count(n.output.String(), "event=SINGLETON_LOST daemon=trainer")
}

// durations formats ds as min/median/max and the list.
func durations(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, max %v (%v)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), ds)
}

// TestSingletonPartition: the singleton test 3 of the issue. Every node
// reaches every etcd member through its own proxies; faultRuns times, the
// holder's proxies are paused for 3×TTL, freezing all its etcd traffic
// (connections stay open, nothing flows). Its copy stops by D, before
// the lease can expire; the new copy on another node starts within TTL +
// 2s of the freeze, never overlapping the old one. When the traffic
// flows again, the old holder finds its lease gone, registers afresh and
// does not start the copy again (its new candidacy is behind the
// holder's, so no fence passes): the cluster settles with one holder.
func TestSingletonPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 etcd members and partitions a node 5 times for 3×TTL")
	}
	etcd := singletonEtcd(t)
	shared := t.TempDir()
	ticks := filepath.Join(shared, "ticks")
	names := []string{"n1", "n2", "n3"}
	nodes := map[string]*clusterNode{}
	proxies := map[string][]*tcpproxy.Proxy{}
	for _, name := range names {
		ps := proxyTo(t, etcd.Endpoints())
		var eps []string
		for _, p := range ps {
			eps = append(eps, p.Addr())
		}
		proxies[name] = ps
		nodes[name] = startNode(t, name, singletonConfig(eps, name, "a100", shared, singletonTTL))
	}
	cur := waitCopy(t, ticks, 0)
	var gaps, sinceFault []time.Duration
	for i := 0; i < faultRuns; i++ {
		n := nodes[cur.node]
		copies := len(readCopies(t, ticks))
		lost := lostCount(n)
		for _, p := range proxies[cur.node] {
			p.Pause()
		}
		paused := time.Now()
		next := waitCopy(t, ticks, copies)
		old := readCopies(t, ticks)[copies-1]
		gap := next.first.Sub(old.last)
		gaps = append(gaps, gap)
		sinceFault = append(sinceFault, next.first.Sub(paused))
		if gap > singletonTTL+2*time.Second || next.first.Sub(paused) > singletonTTL+2*time.Second {
			t.Errorf("failover %s -> %s with %s's etcd traffic frozen took %v from the old copy's last tick, %v from the freeze; want <= TTL + 2s",
				old.node, next.node, old.node, gap, next.first.Sub(paused))
		}
		// D is at most TTL after the last renewal sent, which was before
		// the freeze; the copy is SIGKILLed 0.25s before D at the latest.
		if d := old.last.Sub(paused); d > singletonTTL {
			t.Errorf("the partitioned holder's copy ticked %v after the freeze, past D", d)
		}
		if next.node == cur.node {
			t.Errorf("the copy restarted on the partitioned %s", cur.node)
		}
		eventually(t, 10*time.Second, cur.node+" emits SINGLETON_LOST", func() bool { return lostCount(n) > lost })
		eventually(t, 4*singletonTTL, "3×TTL since the freeze", func() bool { return time.Since(paused) > 3*singletonTTL })
		for _, p := range proxies[cur.node] {
			p.Resume()
		}
		settled(t, n.config, next.node, names)
		for _, c := range readCopies(t, ticks)[copies:] {
			if c.node != next.node {
				t.Errorf("%s ran a copy (pid %d) after %s took over", c.node, c.pid, next.node)
			}
		}
		cur = next
	}
	t.Logf("failover with the holder's etcd traffic frozen: old copy's last tick -> new copy's first: %s", durations(gaps))
	t.Logf("failover with the holder's etcd traffic frozen: freeze -> new copy's first tick: %s", durations(sinceFault))
	checkNoOverlap(t, readCopies(t, ticks))
	for _, n := range nodes {
		n.stop(t)
	}
}

// TestSingletonMemberFrozen: the singleton test 6 of the issue. Each node
// lists one etcd member, a different one; faultRuns times, the holder's
// member is SIGSTOPped: the holder cannot renew its lease, its copy stops
// by D, and another node runs the copy within 2×TTL of the freeze, never
// overlapping the old one. The member is then continued, and the
// cluster settles with the new holder alone.
//
// The frozen member is a follower: the lead is moved away from it first.
// A frozen leader, once continued, can revoke every lease it sees expired
// before it learns that it lost the lead (etcd-io/etcd#15247, mitigated
// in later releases by etcd-io/etcd#16822): the etcd 3.4.23 of these tests
// did so here: the holder's lease went seconds before its deadline, and
// a node took over 0.26 s before the holder's copy had stopped. A lease
// revoked early breaks what every lease-based lock assumes; see the
// README.
func TestSingletonMemberFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 etcd members and freezes one 5 times")
	}
	etcd := singletonEtcd(t)
	shared := t.TempDir()
	ticks := filepath.Join(shared, "ticks")
	names := []string{"n1", "n2", "n3"}
	nodes := map[string]*clusterNode{}
	member := map[string]*etcdtest.Member{}
	for i, name := range names {
		member[name] = etcd.Members[i]
		nodes[name] = startNode(t, name, singletonConfig([]string{etcd.Members[i].Endpoint}, name, "a100", shared, singletonTTL))
	}
	cur := waitCopy(t, ticks, 0)
	var gaps, sinceFault []time.Duration
	for i := 0; i < faultRuns; i++ {
		n, m := nodes[cur.node], member[cur.node]
		copies := len(readCopies(t, ticks))
		lost := lostCount(n)
		if etcd.Leader() == m {
			for _, o := range etcd.Members {
				if o != m {
					etcd.MoveLeader(o)
					break
				}
			}
		}
		m.Stop()
		stopped := time.Now()
		next := waitCopy(t, ticks, copies)
		old := readCopies(t, ticks)[copies-1]
		gap := next.first.Sub(old.last)
		gaps = append(gaps, gap)
		sinceFault = append(sinceFault, next.first.Sub(stopped))
		if gap > 2*singletonTTL || next.first.Sub(stopped) > 2*singletonTTL {
			t.Errorf("failover %s -> %s with %s's etcd member %s frozen took %v from the old copy's last tick, %v from the freeze; want <= 2×TTL",
				old.node, next.node, old.node, m.Name, gap, next.first.Sub(stopped))
		}
		if d := old.last.Sub(stopped); d > singletonTTL {
			t.Errorf("the holder's copy ticked %v after its member froze, past D", d)
		}
		if next.node == cur.node {
			t.Errorf("the copy restarted on %s, whose member is frozen", cur.node)
		}
		eventually(t, 10*time.Second, cur.node+" emits SINGLETON_LOST", func() bool { return lostCount(n) > lost })
		m.Cont()
		etcd.WaitHealthy(60 * time.Second)
		settled(t, nodes[next.node].config, next.node, names)
		for _, c := range readCopies(t, ticks)[copies:] {
			if c.node != next.node {
				t.Errorf("%s ran a copy (pid %d) after %s took over", c.node, c.pid, next.node)
			}
		}
		cur = next
	}
	t.Logf("failover with the holder's only etcd member (a follower) frozen: old copy's last tick -> new copy's first: %s", durations(gaps))
	t.Logf("failover with the holder's only etcd member frozen: freeze -> new copy's first tick: %s", durations(sinceFault))
	checkNoOverlap(t, readCopies(t, ticks))
	for _, n := range nodes {
		n.stop(t)
	}
}
