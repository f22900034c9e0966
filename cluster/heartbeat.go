package cluster

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/supervisor"
)

// This file closes the gap etcd-io/etcd#15247 leaves in a lease: an etcd
// leader frozen for longer than a TTL revokes, when it runs again, the
// leases it thinks expired, though they were renewed through the other
// members meanwhile. The holder's D (its last acknowledged renewal + TTL)
// is then still ahead, and its key is gone: the next candidate's fence
// would pass while the holder's copy still runs.
//
// So the holder makes every extension of D observable, and the others
// wait it out:
//
//   - After each acknowledged renewal, sent at s, the holder puts the
//     owner record again (a heartbeat, Owner.Beat), guarded by its
//     candidate key: If(CreateRevision(myKey) == myRev). Only once etcd
//     acknowledges it does the holder extend its D, and its guard's, to
//     s + TTL. The heartbeat was applied after s, so anyone who reads it
//     reads it after s: every D the holder acts on is before the time
//     any node first reads the heartbeat that allowed it, + TTL.
//   - Every node notes, on its own CLOCK_BOOTTIME, when it first read each
//     version of the owner record (a sighting). A candidate whose fence
//     would replace another holder's record that was not released may
//     pass only from that sighting + the holder's TTL + fenceMargin on.
//     The record has no lease: the read that shows the holder's key gone
//     (the candidate lowest) also shows the last heartbeat the holder
//     could have acted on, since a heartbeat after the key's deletion
//     fails its guard. The fence compares the record's mod revision with
//     the one judged, so no heartbeat slips in between. A late or missed
//     read only makes the candidate wait longer.
//   - A holder that lets go while it can (its copy gone: `ctl stop`, a
//     dependency, shutdown) marks the record released in the transaction
//     that deletes its key, and the next candidate starts at once.
//
// When the holder dies the server lets its lease expire about TTL after
// its last renewal, about when the wait ends anyway: failover is not
// slowed by more than a read interval and fenceMargin. The cost is one
// small transaction per renewal (TTL/8) per held singleton.

// sighting is what a node knows of a singleton's owner record: the
// version it read last and when it first read that version.
type sighting struct {
	modRev int64         // the record's mod revision; 0: no record
	at     time.Duration // Now when this node first read that version
	owner  Owner
}

// see returns s after a read of the owner record that found version
// modRev holding o (modRev 0: no record). now is a reading of Now taken
// after the answer came, never before the request was sent.
func (s sighting) see(modRev int64, o Owner, now time.Duration) sighting {
	if modRev == s.modRev && modRev != 0 {
		return s
	}
	return sighting{modRev: modRev, at: now, owner: o}
}

// fenceFrom returns the earliest reading of Now at which the fence of the
// candidate of create revision rev may pass: 0 when the record is absent,
// released or the candidate's own; otherwise the first sighting of the
// record + its holder's TTL (ttl when the record names none) +
// fenceMargin, past which the holder's copy is gone.
func (s sighting) fenceFrom(rev int64, ttl time.Duration) time.Duration {
	if s.modRev == 0 || s.owner.Released || s.owner.Fence == rev {
		return 0
	}
	if s.owner.TTL > 0 {
		ttl = s.owner.TTL
	}
	return s.at + ttl + fenceMargin
}

// heartbeat puts the owner record of every singleton the node holds after
// each renewal, and extends the D of those etcd acknowledged to the
// renewal's; a holder whose key is gone loses the singleton at once.
func (p *placer) heartbeat(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.n.renewed:
		}
		lease := p.n.Lease()
		if lease.ID == 0 {
			continue
		}
		type beat struct {
			daemon string
			c      *candidate
			rev    int64
			value  string
		}
		var beats []beat
		p.mu.Lock()
		for name, c := range p.cands {
			if c.held && c.lease == lease.ID {
				c.beat++
				v, _ := json.Marshal(Owner{Node: p.n.cfg.Node, Fence: c.rev, Since: c.since, TTL: c.ttl, Beat: c.beat})
				beats = append(beats, beat{name, c, c.rev, string(v)})
			}
		}
		p.mu.Unlock()
		for _, b := range beats {
			key, owner := p.n.keys.Candidate(b.daemon, lease.ID), p.n.keys.OwnerKey(b.daemon)
			ok, err := hedge(ctx, p.n.renew, lease.TTL/4, func(ctx context.Context, cli *clientv3.Client) (bool, error) {
				resp, err := cli.Txn(ctx).
					If(clientv3.Compare(clientv3.CreateRevision(key), "=", b.rev)).
					Then(clientv3.OpPut(owner, b.value)).
					Commit()
				if err != nil {
					return false, err
				}
				return resp.Succeeded, nil
			})
			if err != nil {
				if ctx.Err() == nil {
					p.n.log.Debug("cannot put a singleton's heartbeat; its deadline stays", "daemon", b.daemon, "error", err)
				}
				continue
			}
			p.mu.Lock()
			if p.cands[b.daemon] == b.c && b.c.held && b.c.lease == lease.ID {
				if ok {
					b.c.deadline = max(b.c.deadline, lease.Deadline)
				} else {
					// The key is gone: another node's fence may pass.
					b.c.held = false
					p.n.log.Warn("a held singleton's candidate key is gone before its deadline; killing its copy", "daemon", b.daemon)
					p.link.Send(supervisor.Verdict{Kind: supervisor.VerdictLost, Daemon: b.daemon, Reason: supervisor.LostLease, Gone: true})
				}
			}
			p.mu.Unlock()
		}
	}
}

// release gives up daemon's candidacy c, whose copy is gone: it deletes
// the candidate key and, when the node put the owner record with it,
// marks the record released in the same transaction, so that the next
// candidate need not wait out this node's deadline. The key still there
// is still the lowest, so the record is still this node's.
func (p *placer) release(ctx context.Context, daemon string, c candidate) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.n.cfg.DialTimeout)
	defer cancel()
	key := p.n.keys.Candidate(daemon, c.lease)
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	if c.wrote {
		v, _ := json.Marshal(Owner{Node: p.n.cfg.Node, Fence: c.rev, Since: c.since, TTL: c.ttl, Beat: c.beat, Released: true})
		ops = append(ops, clientv3.OpPut(p.n.keys.OwnerKey(daemon), string(v)))
	}
	_, err := p.n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", c.rev)).
		Then(ops...).
		Commit()
	if err != nil {
		p.n.log.Warn("cannot withdraw a singleton's candidacy; it goes with the lease", "daemon", daemon, "error", err)
	}
}
