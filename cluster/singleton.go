package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/supervisor"
)

// This file is the cluster's side of singleton placement: the candidacy,
// the election and the fence transaction, and the watch of the local
// deadline. It hears the supervisor's fence requests and answers with
// verdicts through the supervisor's PlacementLink.
//
// Keys, under the prefix:
//
//	singleton/<daemon>/<lease>   a candidate, on its node's lease; the one
//	                             with the lowest create revision holds it
//	singleton/<daemon>/owner     {node, fence, since}, put by the fence
//	                             transaction; no lease

// fenceMargin is how long before the stop deadline of a singleton its
// fence stops passing, and before the lease's deadline its SIGKILL falls.
const fenceMargin = 250 * time.Millisecond

// placeTick is how often the deadlines of held singletons are read, and
// how often a waiting candidate looks at the election.
const placeTick = 100 * time.Millisecond

// ownerEvery is how often the owners of every singleton are read for
// status, on a node that waits for none.
const ownerEvery = time.Second

// Owner is the value of singleton/<daemon>/owner.
type Owner struct {
	Node  string    `json:"node"`
	Fence int64     `json:"fence"`
	Since time.Time `json:"since"`
}

// Singletons is the prefix of every singleton's keys.
func (k Keys) Singletons() string { return k.join("singleton", "") }

// Singleton is the prefix of daemon's candidates and owner.
func (k Keys) Singleton(daemon string) string { return k.join("singleton", daemon, "") }

// Candidate is the candidate key of daemon on lease.
func (k Keys) Candidate(daemon string, lease clientv3.LeaseID) string {
	return k.join("singleton", daemon, strconv.FormatInt(int64(lease), 16))
}

// OwnerKey is the owner record of daemon.
func (k Keys) OwnerKey(daemon string) string { return k.join("singleton", daemon, "owner") }

// candidate is the node's candidacy for one singleton.
type candidate struct {
	lease clientv3.LeaseID // the lease its key is on; 0: no key
	rev   int64            // its key's create revision: the fence token
	stop  time.Duration    // the daemon's stop_timeout
	want  bool             // the daemon waits for a fence
	held  bool             // a fence passed and was not lost since
	ask   int64            // the loop's number of the campaign, sent back with a grant
	sentD time.Duration    // the lease deadline the loop last heard, while held
}

// placer runs the singletons of one node.
type placer struct {
	n    *Node
	link *supervisor.PlacementLink

	mu     sync.Mutex
	cands  map[string]*candidate
	owners map[string]supervisor.SingletonStatus // as last sent
}

// place runs the node's singletons until ctx is done: watch runs the
// deadlines, which never waits on etcd; elect the candidacies, the
// elections and the fences.
func (n *Node) place(ctx context.Context) {
	link := n.sup.Placement()
	if link == nil {
		return
	}
	p := &placer{n: n, link: link, cands: make(map[string]*candidate), owners: make(map[string]supervisor.SingletonStatus)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.watch(ctx)
	}()
	p.elect(ctx)
	wg.Wait()
}

// watch reads the clock every placeTick and tells the loop to stop every
// held singleton that is past D − stop_timeout − fenceMargin, or whose
// lease is gone.
func (p *placer) watch(ctx context.Context) {
	t := time.NewTicker(placeTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lease, now := p.n.Lease(), Now()
		p.mu.Lock()
		for name, c := range p.cands {
			if !c.held {
				continue
			}
			if lease.ID == c.lease && now < lease.Deadline-c.stop-fenceMargin {
				if lease.Deadline != c.sentD {
					c.sentD = lease.Deadline
					p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictDeadline, Daemon: name, Deadline: lease.Deadline})
				}
				continue
			}
			c.held = false
			p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictLost, Daemon: name, Reason: supervisor.LostLease})
		}
		p.mu.Unlock()
	}
}

// elect takes the loop's requests and, every placeTick while a daemon
// waits for a fence, puts its candidate key, reads the election and tries
// the fence transaction.
func (p *placer) elect(ctx context.Context) {
	t := time.NewTicker(placeTick)
	defer t.Stop()
	var lastOwners time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.link.Wake():
			p.take(ctx)
		case <-t.C:
		}
		p.mu.Lock()
		waiting := false
		for _, c := range p.cands {
			waiting = waiting || c.want
		}
		p.mu.Unlock()
		if !waiting && time.Since(lastOwners) < ownerEvery {
			continue
		}
		lastOwners = time.Now()
		if err := p.round(ctx); err != nil && ctx.Err() == nil {
			p.n.log.Debug("singleton election round failed", "error", err)
		}
	}
}

// take applies the loop's requests.
func (p *placer) take(ctx context.Context) {
	for _, r := range p.link.Take() {
		p.mu.Lock()
		c := p.cands[r.Daemon]
		if r.Campaign {
			if c == nil {
				c = &candidate{}
				p.cands[r.Daemon] = c
			}
			c.want, c.stop, c.ask = true, r.StopTimeout, r.Ask
			p.mu.Unlock()
			continue
		}
		delete(p.cands, r.Daemon)
		p.mu.Unlock()
		if c != nil && c.lease != 0 {
			// The copy is down: the next candidate may take over now.
			cctx, cancel := context.WithTimeout(ctx, p.n.cfg.DialTimeout)
			if _, err := p.n.cli.Delete(cctx, p.n.keys.Candidate(r.Daemon, c.lease)); err != nil {
				p.n.log.Warn("cannot withdraw a singleton's candidacy; it goes with the lease", "daemon", r.Daemon, "error", err)
			}
			cancel()
		}
	}
}

// round is one look at every singleton: the candidacies of the daemons
// waiting for a fence are put on the current lease, the fence is tried
// where this node's candidate is the lowest, and the owners are sent to
// the loop for status.
func (p *placer) round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(p.n.cfg.DialTimeout, time.Second))
	defer cancel()
	lease := p.n.Lease()
	p.mu.Lock()
	var toPut []string
	for name, c := range p.cands {
		if c.want && lease.ID != 0 && c.lease != lease.ID {
			toPut = append(toPut, name)
		}
	}
	p.mu.Unlock()
	for _, name := range toPut {
		rev, err := p.candidacy(ctx, name, lease.ID)
		if err != nil {
			return err
		}
		p.mu.Lock()
		if c := p.cands[name]; c != nil {
			c.lease, c.rev, c.held = lease.ID, rev, false
		}
		p.mu.Unlock()
	}
	resp, err := p.n.cli.Get(ctx, p.n.keys.Singletons(), clientv3.WithPrefix())
	if err != nil {
		return err
	}
	view := p.readElections(resp.Kvs)
	for name, e := range view {
		p.sendOwner(name, e.owner)
	}
	p.mu.Lock()
	var tries []string
	for name, c := range p.cands {
		if e := view[name]; c.want && c.lease == lease.ID && c.lease != 0 && e.lowest == c.rev {
			tries = append(tries, name)
		}
	}
	p.mu.Unlock()
	for _, name := range tries {
		if err := p.fence(ctx, name, lease); err != nil {
			return err
		}
	}
	return nil
}

// candidacy puts the candidate key of daemon on lease, if it is not
// there, and returns its create revision.
func (p *placer) candidacy(ctx context.Context, daemon string, lease clientv3.LeaseID) (int64, error) {
	key := p.n.keys.Candidate(daemon, lease)
	resp, err := p.n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, p.n.cfg.Node, clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("cannot put the candidacy for %q: %w", daemon, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return 0, fmt.Errorf("cannot read the candidacy for %q", daemon)
	}
	return kvs[0].CreateRevision, nil
}

// fence runs the fence transaction for daemon: it passes when this
// node's candidate key is still the one of revision rev (so still the
// lowest: no key can be created below it) and the owner record is put,
// and when the local time is still before D − stop_timeout − fenceMargin.
func (p *placer) fence(ctx context.Context, daemon string, lease Lease) error {
	p.mu.Lock()
	c := p.cands[daemon]
	if c == nil || !c.want || c.lease != lease.ID {
		p.mu.Unlock()
		return nil
	}
	rev, stop := c.rev, c.stop
	p.mu.Unlock()
	owner, _ := json.Marshal(Owner{Node: p.n.cfg.Node, Fence: rev, Since: time.Now().UTC()})
	key := p.n.keys.Candidate(daemon, lease.ID)
	resp, err := p.n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
		Then(clientv3.OpPut(p.n.keys.OwnerKey(daemon), string(owner))).
		Commit()
	if err != nil {
		return fmt.Errorf("cannot fence %q: %w", daemon, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.n.Lease()
	if !resp.Succeeded || p.cands[daemon] != c || !c.want || cur.ID != lease.ID || Now() >= cur.Deadline-stop-fenceMargin {
		if !resp.Succeeded {
			c.lease = 0 // the key is gone: put it again
		}
		return nil
	}
	c.want, c.held, c.sentD = false, true, cur.Deadline
	p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictGranted, Daemon: daemon, Fence: rev, Deadline: cur.Deadline, Ask: c.ask})
	return nil
}

// election is what etcd says of one singleton.
type election struct {
	lowest int64 // the create revision of the lowest candidate; 0: none
	owner  supervisor.SingletonStatus
}

// readElections reads the keys under singleton/: the owner record counts
// only while the candidate it names (by its revision) is still there.
func (p *placer) readElections(kvs []*mvccpb.KeyValue) map[string]election {
	view := make(map[string]election)
	owners := make(map[string]Owner)
	cands := make(map[string][]int64)
	for _, kv := range kvs {
		parts := split(string(kv.Key), p.n.keys.Singletons())
		if len(parts) != 2 {
			continue
		}
		name := parts[0]
		if parts[1] == "owner" {
			var o Owner
			if json.Unmarshal(kv.Value, &o) == nil {
				owners[name] = o
			}
			continue
		}
		cands[name] = append(cands[name], kv.CreateRevision)
	}
	for name, revs := range cands {
		sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
		e := election{lowest: revs[0]}
		if o, ok := owners[name]; ok && o.Fence == revs[0] {
			e.owner = supervisor.SingletonStatus{Owner: o.Node, Fence: o.Fence}
		}
		view[name] = e
	}
	for name := range owners {
		if _, ok := view[name]; !ok {
			view[name] = election{}
		}
	}
	return view
}

// sendOwner tells the loop who holds daemon, when that changed.
func (p *placer) sendOwner(daemon string, o supervisor.SingletonStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.owners[daemon]; ok && last == o {
		return
	}
	p.owners[daemon] = o
	p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictOwner, Daemon: daemon, Owner: o.Owner, Fence: o.Fence})
	// No event says so: publish the status again.
	p.n.mu.Lock()
	p.n.dirty = true
	p.n.mu.Unlock()
	p.n.poke()
}
