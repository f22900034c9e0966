package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/etcdtest"
)

// staleTTL is the node lease of TestSingletonStaleEtcdLeader: long enough
// that the holder rides out the election that follows the leader's
// freeze (2-4s with the test members' 2s election timeout) without
// stopping its copy, which needs TTL − stop_timeout − 0.25s above it.
const staleTTL = 6 * time.Second

// staleMaxRuns bounds the runs of TestSingletonStaleEtcdLeader: past
// faultRuns it goes on until etcd revoked a lease early in one run. The
// frozen leader's revocation is applied only when its lessor's check
// (every 500ms) and its stepping down on resume fall the right way: in 10
// of 28 runs here, so that 12 runs miss it about once in 200 tests, and
// the test then skips, saying so.
const staleMaxRuns = 12

// staleFreeze is how long the etcd leader is frozen: longer than the
// TTL, so that on its return every lease looks expired to it.
const staleFreeze = staleTTL + 1500*time.Millisecond

// TestSingletonStaleEtcdLeader: etcd 3.4 (etcd-io/etcd#15247) used to let
// a second node start the singleton while the holder's copy still ran.
// An etcd leader frozen for longer than the TTL revokes, once it runs
// again, the leases it thinks expired, though they were renewed through
// the other members meanwhile; the holder's local deadline D is still
// ahead, so neither its stop nor its guard has fired when the next
// candidate's fence passes. The holder's copy here takes its whole
// stop_timeout to stop (it ignores SIGTERM), as a daemon that flushes
// its state may. A node logs when etcd says its lease is gone before its
// deadline: without such an early revocation in some run, the test could
// not fail.
func TestSingletonStaleEtcdLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 etcd members and freezes the leader 5 to 12 times")
	}
	etcd := etcdtest.Start(t, 3)
	eps := etcd.Endpoints()
	shared := t.TempDir()
	ticks := filepath.Join(shared, "ticks")
	nodes := map[string]*clusterNode{}
	for _, name := range []string{"n1", "n2"} {
		cfg := singletonConfig(eps, name, "a100", shared, staleTTL)
		cfg = strings.Replace(cfg, `command = '(while`, `command = 'trap "" TERM; (while`, 1)
		nodes[name] = startNode(t, name, cfg)
	}
	waitCopy(t, ticks, 0)

	revocations := func() int {
		sum := 0
		for _, n := range nodes {
			sum += strings.Count(n.output.String(), "revoked the node's lease before its deadline")
		}
		return sum
	}
	logged := func(n *clusterNode, from int) []string {
		var out []string
		for _, l := range strings.Split(n.output.String()[from:], "\n") {
			if strings.Contains(l, "SINGLETON_") && strings.Contains(l, "daemon=trainer") || strings.Contains(l, "before its deadline") || strings.Contains(l, "candidate key is gone") || strings.Contains(l, "waiting out its deadline") {
				out = append(out, strings.TrimSpace(l))
			}
		}
		return out
	}
	var early, overlaps, runs int
	var gaps []time.Duration
	for ; runs < staleMaxRuns && (runs < faultRuns || early == 0); runs++ {
		before := readCopies(t, ticks)
		revokedBefore := revocations()
		from := map[string]int{}
		for name, n := range nodes {
			from[name] = len(n.output.String())
		}
		leader := etcd.Leader()
		leader.Stop()
		frozen := time.Now()
		eventually(t, 2*staleFreeze, "the leader frozen for TTL + 1.5s", func() bool { return time.Since(frozen) > staleFreeze })
		leader.Cont()
		etcd.WaitHealthy(60 * time.Second)
		back := time.Now()
		// Settled: TTL + 2s after the leader's return, a copy ticks.
		eventually(t, 4*staleTTL, "a copy ticks TTL + 2s after the leader's return", func() bool {
			cs := readCopies(t, ticks)
			return time.Since(back) > staleTTL+2*time.Second && len(cs) > 0 && time.Since(cs[len(cs)-1].last) < 500*time.Millisecond
		})
		revoked := revocations() - revokedBefore
		after := readCopies(t, ticks)
		overlap := false
		for i := max(1, len(before)); i < len(after); i++ {
			if !after[i-1].last.Before(after[i].first) {
				overlap = true
			}
		}
		if revoked > 0 {
			early++
		}
		if overlap {
			overlaps++
		}
		var moves []string
		for i := max(1, len(before)); i < len(after); i++ {
			gap := after[i].first.Sub(after[i-1].last)
			gaps = append(gaps, gap)
			moves = append(moves, after[i-1].node+"->"+after[i].node+" gap "+gap.Round(time.Millisecond).String())
		}
		t.Logf("run %d: leader %s frozen %v; leases revoked before their deadline: %d; new copies: %v; overlap: %v",
			runs, leader.Name, staleFreeze, revoked, moves, overlap)
		for _, name := range []string{"n1", "n2"} {
			for _, l := range logged(nodes[name], from[name]) {
				t.Logf("  %s: %s", name, l)
			}
		}
	}
	t.Logf("%d runs: leases revoked early in %d, runs with two copies at once: %d, gaps between copies: %v", runs, early, overlaps, gaps)
	checkNoOverlap(t, readCopies(t, ticks))
	// The copy ignores SIGTERM, so the shutdown is unclean (exit 1).
	for _, n := range nodes {
		syscall.Kill(n.pid, syscall.SIGTERM)
		waitExit(t, n.pid, 30*time.Second)
	}
	if early == 0 {
		// Not a failure of ringsup: etcd did not misbehave (about one
		// test in 200 with 3.4.23; always with an etcd that has the
		// fix, 3.5.13 or 3.4.31 and later), so nothing was shown.
		t.Skipf("etcd revoked no lease before its deadline in %d runs: etcd-io/etcd#15247 was not reproduced, so this run shows nothing", runs)
	}
}
