package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/supervisor"
)

// retryDelay is how long the publisher waits after a failed request.
const retryDelay = time.Second

// publish is the node's one goroutine that writes to etcd: the
// registration again after the lease was lost (after a random delay of up
// to 2s, so that a fleet does not stampede a recovered etcd), the status
// changes (at most one transaction a StatusInterval), the queued events,
// and the answers to requests. It returns when ctx is done.
func (n *Node) publish(ctx context.Context) {
	var (
		watch      clientv3.WatchChan
		stopWatch  = func() {}
		registerAt time.Time // zero: registered
		retryAt    time.Time // after a failed write
		lastTxn    time.Time
	)
	defer func() { stopWatch() }()
	if n.Lease().ID == 0 {
		registerAt = time.Now()
	} else {
		watch, stopWatch = n.watchCommands(ctx)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		case <-n.leaseGon:
			stopWatch()
			watch, stopWatch = nil, func() {}
			registerAt = time.Now().Add(time.Duration(n.rand.Int64N(int64(2 * time.Second))))
			n.log.Warn("the node's lease expired; registering again", "in", time.Until(registerAt).Round(time.Millisecond))
		case wr, ok := <-watch:
			if !ok || wr.Err() != nil {
				stopWatch()
				watch, stopWatch = n.watchCommands(ctx)
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypePut {
					n.apply(ctx, ev.Kv.Key, ev.Kv.Value, ev.Kv.CreateRevision, ev.Kv.Lease)
				}
			}
			continue
		}
		now := time.Now()
		var next time.Time // when to look again; zero: when woken
		later := func(t time.Time) {
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
		switch {
		case !registerAt.IsZero() && now.Before(registerAt):
			later(registerAt)
		case !registerAt.IsZero():
			err := n.Register(ctx)
			var taken *TakenError
			switch {
			case err == nil:
				registerAt = time.Time{}
				n.log.Info("node registered", "node", n.cfg.Node, "lease", int64(n.Lease().ID))
				watch, stopWatch = n.watchCommands(ctx)
			case errors.As(err, &taken):
				n.log.Error("cannot register", "error", err)
				registerAt = now.Add(n.cfg.TTL)
				later(registerAt)
			default:
				registerAt = now.Add(retryDelay + time.Duration(n.rand.Int64N(int64(time.Second))))
				later(registerAt)
			}
		}
		if registerAt.IsZero() && !now.Before(retryAt) {
			if err := n.putEvents(ctx); err != nil {
				retryAt = now.Add(retryDelay)
			}
			if due := lastTxn.Add(n.opts.StatusInterval); n.isDirty() && now.Before(due) {
				later(due)
			} else if n.isDirty() {
				lastTxn = now
				if err := n.flushStatus(ctx); err != nil {
					retryAt = now.Add(retryDelay)
				}
			}
			if n.needsDroppedReport() {
				later(now.Add(time.Second))
			}
		}
		if now.Before(retryAt) {
			later(retryAt)
		}
		if n.isDirty() && registerAt.IsZero() {
			later(lastTxn.Add(n.opts.StatusInterval))
		}
		if !next.IsZero() {
			timer.Reset(max(0, time.Until(next)))
		}
	}
}

func (n *Node) isDirty() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dirty || n.infoDirty
}

// needsDroppedReport queues an EVENTS_DROPPED event when events were
// dropped and the rate limit lets one through, and reports whether one is
// still owed.
func (n *Node) needsDroppedReport() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dropped == 0 {
		return false
	}
	if !n.bucket.take(time.Now()) {
		return true
	}
	// As the supervisor reports a publisher's drops, with no daemon_type:
	// the limit is the node's (see supervisor.Event.Dropped).
	e := supervisor.Event{
		Type:      supervisor.EventsDropped,
		Timestamp: float64(time.Now().UnixNano()) / 1e9,
		Dropped:   n.dropped,
	}
	if b, err := withNode(e, n.cfg.Node); err == nil {
		n.queue = append(n.queue, b)
		n.dropped = 0
	}
	n.poke()
	return false
}

// putEvents puts the queued events in order, one put each, on the lease.
// An event etcd did not take stays first in the queue.
func (n *Node) putEvents(ctx context.Context) error {
	key := n.keys.NodeEvents(n.cfg.Node)
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return nil
		}
		ev, lease := n.queue[0], n.lease.ID
		n.mu.Unlock()
		if lease == 0 {
			return errLeaseGone
		}
		cctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
		_, err := n.cli.Put(cctx, key, string(ev), clientv3.WithLease(lease))
		cancel()
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.queue = n.queue[1:]
		n.mu.Unlock()
	}
}

// flushStatus publishes what changed since the last flush in one
// transaction of at most maxTxnOps operations; what does not fit stays
// dirty for the next.
func (n *Node) flushStatus(ctx context.Context) error {
	n.mu.Lock()
	n.dirty = false
	infoDirty := n.infoDirty
	n.infoDirty = false
	var info []byte
	if infoDirty {
		info, _ = json.Marshal(n.info())
	}
	lease := n.lease.ID
	n.mu.Unlock()
	st, err := n.sup.Status()
	if err != nil {
		return nil // the supervisor is done; Run ends soon
	}
	now := time.Now()
	type change struct {
		name string
		st   *status // nil: delete
	}
	var changes []change
	n.mu.Lock()
	for _, name := range st.Names() {
		s := statusOf(st.Daemons[name], now, n.published[name])
		if old, ok := n.published[name]; !ok || !bytes.Equal(old.value, s.value) {
			changes = append(changes, change{name, &s})
		}
	}
	for name := range n.published {
		if _, ok := st.Daemons[name]; !ok {
			changes = append(changes, change{name: name})
		}
	}
	n.mu.Unlock()
	slices.SortFunc(changes, func(a, b change) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	var ops []clientv3.Op
	if info != nil {
		ops = append(ops, clientv3.OpPut(n.keys.Node(n.cfg.Node), string(info), clientv3.WithLease(lease)))
	}
	rest := false
	if len(ops)+len(changes) > maxTxnOps {
		changes, rest = changes[:maxTxnOps-len(ops)], true
	}
	for _, c := range changes {
		key := n.keys.Status(n.cfg.Node, c.name)
		if c.st == nil {
			ops = append(ops, clientv3.OpDelete(key))
		} else {
			ops = append(ops, clientv3.OpPut(key, string(c.st.value), clientv3.WithLease(lease)))
		}
	}
	if len(ops) == 0 {
		return nil
	}
	fail := func() {
		n.mu.Lock()
		n.dirty, n.infoDirty = true, n.infoDirty || infoDirty
		n.mu.Unlock()
	}
	if lease == 0 {
		fail()
		return errLeaseGone
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	_, err = n.cli.Txn(cctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		fail()
		return err
	}
	n.mu.Lock()
	for _, c := range changes {
		if c.st == nil {
			delete(n.published, c.name)
		} else {
			n.published[c.name] = *c.st
		}
	}
	n.dirty = n.dirty || rest
	n.mu.Unlock()
	return nil
}

// statusOf returns a daemon's status as published: the object of `ctl
// status --json` without the fields that change every second (uptime_s,
// backoff_s), with `since`, the Unix time it has been running since. A
// since within a second of the one published for the same process is
// the published one: it is the same start, measured again.
func statusOf(ds supervisor.DaemonStatus, now time.Time, prev status) status {
	s := status{pid: ds.PID}
	if ds.State == supervisor.Running && ds.PID != 0 {
		s.since = math.Round((float64(now.UnixNano())/1e9-ds.UptimeS)*1000) / 1000
		if prev.pid == ds.PID && prev.since != 0 && math.Abs(prev.since-s.since) < 1 {
			s.since = prev.since
		}
	}
	b, _ := json.Marshal(ds)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	delete(m, "uptime_s")
	delete(m, "backoff_s")
	if s.since != 0 {
		m["since"], _ = json.Marshal(s.since)
	}
	s.value, _ = json.Marshal(m)
	return s
}
