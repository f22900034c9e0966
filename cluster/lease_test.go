package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/internal/etcdtest"
)

// TestRenewHedgesAroundAHungMember: a member frozen with SIGSTOP keeps
// its connections open, so a renewal sent to it never answers; the
// hedged renewal gets its answer from the next member, and the deadline
// it returns is the TTL after the successful send.
func TestRenewHedgesAroundAHungMember(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	c := &config.Cluster{Endpoints: etcd.Endpoints(), TTL: 5 * time.Second, DialTimeout: 2 * time.Second}
	cli, err := Dial(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	grant, err := cli.Grant(t.Context(), 5)
	if err != nil {
		t.Fatal(err)
	}
	r := &renewer{}
	for _, ep := range c.Endpoints {
		one, err := Dial(c, []string{ep})
		if err != nil {
			t.Fatal(err)
		}
		defer one.Close()
		r.clients = append(r.clients, one)
	}
	// A first renewal through every endpoint makes the connections.
	for i := range r.clients {
		r.first.Store(int32(i))
		if _, err := r.renew(t.Context(), grant.ID, 5*time.Second); err != nil {
			t.Fatalf("renewal through %s: %v", c.Endpoints[i], err)
		}
	}
	hung := etcd.Members[0]
	if hung == etcd.Leader() {
		hung = etcd.Members[1] // a hung leader holds up every member until the next election
	}
	hung.Stop()
	defer hung.Cont()
	hungAt := 0
	for i, m := range etcd.Members {
		if m == hung {
			hungAt = i
		}
	}
	for range 5 {
		r.first.Store(int32(hungAt)) // the hung member first, every time
		start := Now()
		l, err := r.renew(t.Context(), grant.ID, time.Second)
		took := Now() - start
		if err != nil {
			t.Fatalf("renewal with %s hung: %v", hung.Name, err)
		}
		if l.ID != grant.ID || l.Deadline < start+5*time.Second || l.Deadline > start+took+5*time.Second {
			t.Errorf("renew = %+v; want the deadline 5s after a send between %v and %v", l, start, start+took)
		}
		t.Logf("renewed in %v with %s hung", took, hung.Name)
	}
	// Without hedging, a renewal sent only to the hung member times out.
	alone := &renewer{clients: r.clients[hungAt : hungAt+1]}
	if _, err := alone.renew(t.Context(), grant.ID, time.Second); err == nil {
		t.Error("a renewal through the hung member alone succeeded: the test does not hang it")
	}
	hung.Cont()

	if _, err := cli.Revoke(context.Background(), grant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.renew(t.Context(), grant.ID, 5*time.Second); !errors.Is(err, errLeaseGone) {
		t.Errorf("renewal of a revoked lease: %v, want errLeaseGone", err)
	}
}
