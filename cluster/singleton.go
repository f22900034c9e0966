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
//	singleton/<daemon>/owner     {node, fence, since, ttl, beat,
//	                             released}, put by the fence transaction
//	                             and by the holder's heartbeats
//	                             (heartbeat.go); no lease

// fenceMargin is how long before the stop deadline of a singleton its
// fence stops passing, and before the lease's deadline its SIGKILL falls;
// and how long past the last deadline a holder can have acted on the
// next candidate waits (heartbeat.go).
const fenceMargin = supervisor.FenceMargin

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
	// TTL is the holder's lease TTL, in nanoseconds: a candidate waits
	// that long after it first read the record before it replaces it.
	TTL time.Duration `json:"ttl,omitzero"`
	// Beat counts the holder's heartbeats since its fence (heartbeat.go).
	Beat int64 `json:"beat,omitzero"`
	// Released says that the holder's copy is gone and its key deleted:
	// the next candidate need not wait.
	Released bool `json:"released,omitzero"`
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
	sentD time.Duration    // the deadline the loop last heard, while held
	// deadline is D while held: the last renewal a heartbeat followed
	// (or the fence), + TTL (heartbeat.go). The copy must be gone by it.
	deadline time.Duration
	// wrote: the node put the owner record with this key; since, ttl
	// and beat are what it put last.
	wrote bool
	since time.Time
	ttl   time.Duration
	beat  int64
}

// placer runs the singletons of one node.
type placer struct {
	n    *Node
	link *supervisor.PlacementLink

	mu     sync.Mutex
	cands  map[string]*candidate
	owners map[string]supervisor.SingletonStatus // as last sent

	// Only elect's goroutine uses these, by daemon: the owner records
	// as read, and the version whose wait was last logged.
	seen       map[string]sighting
	waitLogged map[string]int64
}

// place runs the node's singletons until ctx is done: watch runs the
// deadlines, which never waits on etcd; elect the candidacies, the
// elections and the fences.
func (n *Node) place(ctx context.Context) {
	link := n.sup.Placement()
	if link == nil {
		return
	}
	p := &placer{n: n, link: link, cands: make(map[string]*candidate), owners: make(map[string]supervisor.SingletonStatus),
		seen: make(map[string]sighting), waitLogged: make(map[string]int64)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.watch(ctx)
	}()
	go func() {
		defer wg.Done()
		p.heartbeat(ctx)
	}()
	p.elect(ctx)
	wg.Wait()
	// A shutdown's withdrawals may still wait: the copies are gone, and
	// the next node starts at once only if they are released.
	p.take(ctx)
}

// watch reads the clock every placeTick and tells the loop to stop every
// held singleton that is past its D − stop_timeout − fenceMargin, or to
// kill it when its lease is gone.
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
			if lease.ID == c.lease && now < c.deadline-c.stop-fenceMargin {
				if c.deadline != c.sentD {
					c.sentD = c.deadline
					p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictDeadline, Daemon: name, Deadline: c.deadline})
				}
				continue
			}
			c.held = false
			p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictLost, Daemon: name, Reason: supervisor.LostLease, Gone: lease.ID != c.lease})
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
		var gone candidate
		if c != nil {
			gone = *c
		}
		p.mu.Unlock()
		if gone.lease != 0 {
			// The copy is down: the next candidate may take over now.
			p.release(ctx, r.Daemon, gone)
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
			c.lease, c.rev, c.held, c.wrote = lease.ID, rev, false, false
		}
		p.mu.Unlock()
	}
	resp, err := p.n.cli.Get(ctx, p.n.keys.Singletons(), clientv3.WithPrefix())
	if err != nil {
		return err
	}
	read := Now()
	view := p.readElections(resp.Kvs)
	p.sight(resp.Kvs, read)
	for name, e := range view {
		p.sendOwner(name, e.owner)
	}
	p.mu.Lock()
	var tries []string
	for name, c := range p.cands {
		e, s := view[name], p.seen[name]
		if !c.want || c.lease != lease.ID || c.lease == 0 || e.lowest != c.rev {
			continue
		}
		if from := s.fenceFrom(c.rev, lease.TTL); read < from {
			if p.waitLogged[name] != s.modRev {
				p.waitLogged[name] = s.modRev
				p.n.log.Info("the singleton's last holder did not release it; waiting out its deadline before the fence",
					"daemon", name, "holder", s.owner.Node, "fence", s.owner.Fence, "wait", (from - read).Round(time.Millisecond))
			}
			continue
		}
		tries = append(tries, name)
	}
	p.mu.Unlock()
	for _, name := range tries {
		if err := p.fence(ctx, name, lease, p.seen[name].modRev); err != nil {
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
// lowest: no key can be created below it) and the owner record is still
// the version ownerRev the wait was judged on, and the owner record is
// put; and when the local time is still before D − stop_timeout −
// fenceMargin, D being lease's: lease was read before the transaction
// was sent, so whoever reads the record reads it after D − TTL.
func (p *placer) fence(ctx context.Context, daemon string, lease Lease, ownerRev int64) error {
	p.mu.Lock()
	c := p.cands[daemon]
	if c == nil || !c.want || c.lease != lease.ID {
		p.mu.Unlock()
		return nil
	}
	rev, stop := c.rev, c.stop
	p.mu.Unlock()
	since := time.Now().UTC()
	owner, _ := json.Marshal(Owner{Node: p.n.cfg.Node, Fence: rev, Since: since, TTL: lease.TTL})
	key := p.n.keys.Candidate(daemon, lease.ID)
	resp, err := p.n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev),
			clientv3.Compare(clientv3.ModRevision(p.n.keys.OwnerKey(daemon)), "=", ownerRev)).
		Then(clientv3.OpPut(p.n.keys.OwnerKey(daemon), string(owner))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("cannot fence %q: %w", daemon, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) == 0 && p.cands[daemon] == c {
			c.lease = 0 // the key is gone: put it again
		}
		return nil // else the owner record changed: judge it again
	}
	if p.cands[daemon] == c && c.lease == lease.ID {
		// Others now wait out this record, granted or not.
		c.wrote, c.since, c.ttl, c.beat = true, since, lease.TTL, 0
	}
	cur := p.n.Lease()
	if p.cands[daemon] != c || !c.want || cur.ID != lease.ID || Now() >= lease.Deadline-stop-fenceMargin {
		return nil
	}
	c.want, c.held, c.sentD, c.deadline = false, true, lease.Deadline, lease.Deadline
	p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictGranted, Daemon: daemon, Fence: rev, Deadline: lease.Deadline, Ask: c.ask})
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

// sight records, for every singleton, the version of its owner record in
// kvs (the answer of a read of the whole prefix), read at read.
func (p *placer) sight(kvs []*mvccpb.KeyValue, read time.Duration) {
	found := make(map[string]bool)
	for _, kv := range kvs {
		parts := split(string(kv.Key), p.n.keys.Singletons())
		if len(parts) != 2 || parts[1] != "owner" {
			continue
		}
		var o Owner
		if json.Unmarshal(kv.Value, &o) != nil {
			o = Owner{} // unreadable: a holder of unknown TTL, not released
		}
		p.seen[parts[0]] = p.seen[parts[0]].see(kv.ModRevision, o, read)
		found[parts[0]] = true
	}
	for name, s := range p.seen {
		if !found[name] {
			p.seen[name] = s.see(0, Owner{}, read)
		}
	}
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
