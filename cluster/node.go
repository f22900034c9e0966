package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// Supervisor is what a Node needs of the supervisor: its public methods.
type Supervisor interface {
	Subscribe() (<-chan supervisor.Event, func())
	Status(names ...string) (supervisor.Status, error)
	Start(names ...string) error
	Stop(names ...string) error
	Restart(force bool, names ...string) error
	Done() <-chan struct{}
	// Placement links the node to the singletons' fences; nil: none.
	Placement() *supervisor.PlacementLink
}

// Options configure a Node.
type Options struct {
	// Cluster is the [cluster] table. Required.
	Cluster *config.Cluster
	// Supervisor runs the node's daemons. Required.
	Supervisor Supervisor
	// ConfigPath is the config file; its hash is in the registration.
	ConfigPath string
	// Profile is the profile the supervisor runs at start; the node
	// follows PROFILE_CHANGED from there.
	Profile string
	// Version is ringsup's version, shown in the registration.
	Version string
	// Logger receives the node's log. Default: none.
	Logger hclog.Logger
	// EventRate and EventBurst limit the events put to etcd: EventRate a
	// second on average, EventBurst at once. The excess is counted and
	// reported in an EVENTS_DROPPED event. Defaults: 10 and 50.
	EventRate  float64
	EventBurst int
	// StatusInterval is the least time between two transactions that
	// publish status changes. Default: 1s.
	StatusInterval time.Duration
}

// maxTxnOps is etcd's default --max-txn-ops: no transaction has more.
const maxTxnOps = 128

// maxQueued bounds the events waiting for etcd; beyond it they are
// dropped and counted.
const maxQueued = 256

// TakenError says that another live node is registered under the name.
type TakenError struct {
	Node   string
	Prefix string
	Holder NodeInfo
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("cannot register node %q: another ringsup is registered under that name in %s (pid %d on %s, since %s); give this one another [cluster] node",
		e.Node, e.Prefix, e.Holder.PID, e.Holder.Addr, e.Holder.StartedAt.Format(time.RFC3339))
}

// NodeInfo is the value of nodes/<node>.
type NodeInfo struct {
	Version    string            `json:"version,omitzero"`
	PID        int               `json:"pid,omitzero"`
	Profile    string            `json:"profile,omitzero"`
	Labels     map[string]string `json:"labels,omitzero"`
	ConfigHash string            `json:"config_hash,omitzero"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	// Addr is the host name of the machine the node runs on.
	Addr string `json:"addr,omitzero"`
}

// MemberInfo is the value of members/<node>, which has no lease: it
// outlives the node, so that status can show it down.
type MemberInfo struct {
	LastSeen time.Time `json:"last_seen"`
	Version  string    `json:"version"`
}

// Node is one ringsup node of a cluster. Create it with New (before the
// supervisor runs, so that it sees start-up's events), call Register,
// then Run.
type Node struct {
	opts    Options
	cfg     *config.Cluster
	log     hclog.Logger
	keys    Keys
	sup     Supervisor
	cli     *clientv3.Client
	renew   *renewer
	started time.Time
	rand    *rand.Rand

	events      <-chan supervisor.Event
	unsubscribe func()

	// mu guards what the intake, keeper and publisher share.
	mu        sync.Mutex
	lease     Lease
	regRev    int64             // revision of the registration
	published map[string]status // by daemon: what etcd has
	queue     [][]byte          // events to put
	dropped   int               // events kept out since the last EVENTS_DROPPED
	bucket    bucket
	dirty     bool // status may have changed
	infoDirty bool // the registration's profile or config changed
	profile   string
	linkLost  bool

	wake     chan struct{} // something to publish
	leaseGon chan struct{} // the keeper found the lease gone
	renewed  chan struct{} // the keeper renewed the lease: time for the heartbeats
}

// status is a daemon's status as published.
type status struct {
	value []byte
	pid   int
	since float64
}

// New prepares a node. It subscribes to the supervisor's events at once
// and connects to etcd lazily.
func New(opts Options) (*Node, error) {
	if opts.Cluster == nil || opts.Supervisor == nil {
		return nil, errors.New("cannot create cluster node: no [cluster] or no supervisor")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.EventRate <= 0 {
		opts.EventRate = 10
	}
	if opts.EventBurst <= 0 {
		opts.EventBurst = 50
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = time.Second
	}
	c := opts.Cluster
	cli, err := Dial(c, nil)
	if err != nil {
		return nil, err
	}
	r := &renewer{}
	for _, ep := range c.Endpoints {
		one, err := Dial(c, []string{ep})
		if err != nil {
			cli.Close()
			r.close()
			return nil, err
		}
		r.clients = append(r.clients, one)
	}
	n := &Node{
		opts:      opts,
		cfg:       c,
		log:       opts.Logger,
		keys:      Keys{Prefix: c.Prefix},
		sup:       opts.Supervisor,
		cli:       cli,
		renew:     r,
		started:   time.Now(),
		rand:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		published: make(map[string]status),
		bucket:    bucket{rate: opts.EventRate, burst: float64(opts.EventBurst), tokens: float64(opts.EventBurst)},
		dirty:     true,
		profile:   opts.Profile,
		wake:      make(chan struct{}, 1),
		leaseGon:  make(chan struct{}, 1),
		renewed:   make(chan struct{}, 1),
	}
	n.events, n.unsubscribe = opts.Supervisor.Subscribe()
	return n, nil
}

func (r *renewer) close() {
	for _, c := range r.clients {
		c.Close()
	}
}

// Lease returns the node's lease as last renewed; its ID is 0 while the
// node holds none. Any goroutine may call it.
func (n *Node) Lease() Lease {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lease
}

// Close releases what New took, for a node whose Run was never called.
// Its subscription to the supervisor's events goes with the supervisor.
func (n *Node) Close() {
	n.cli.Close()
	n.renew.close()
}

// Register grants the node's lease and registers the node, within the
// dial timeout. It returns a *TakenError when another live node has the
// name, and an *UnreachableError when etcd does not answer; on any error
// but the first, the node logs that the cluster link is lost, and Run
// registers once etcd answers.
func (n *Node) Register(ctx context.Context) error {
	err := n.register(ctx)
	var taken *TakenError
	switch {
	case err == nil:
		n.setLink(true, nil)
	case !errors.As(err, &taken):
		n.setLink(false, err)
	}
	return err
}

func (n *Node) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	old := n.Lease()
	sent := Now()
	grant, err := n.cli.Grant(ctx, int64(n.cfg.TTL/time.Second))
	if err != nil {
		return unreachable(n.cli, fmt.Errorf("cannot grant the node's lease: %w", err))
	}
	ttl := time.Duration(grant.TTL) * time.Second
	lease := Lease{ID: grant.ID, TTL: ttl, Deadline: sent + ttl}
	n.mu.Lock()
	info, _ := json.Marshal(n.info())
	n.infoDirty = false
	n.mu.Unlock()
	member, _ := json.Marshal(MemberInfo{LastSeen: time.Now().UTC(), Version: n.opts.Version})
	key := n.keys.Node(n.cfg.Node)
	for attempt := 0; ; attempt++ {
		resp, err := n.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(info), clientv3.WithLease(grant.ID)),
				clientv3.OpPut(n.keys.Member(n.cfg.Node), string(member))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			n.revoke(grant.ID)
			return unreachable(n.cli, fmt.Errorf("cannot register: %w", err))
		}
		if resp.Succeeded {
			n.mu.Lock()
			n.lease, n.regRev = lease, resp.Header.Revision
			// The keys of an old lease are gone, or go with it.
			clear(n.published)
			n.dirty = true
			n.mu.Unlock()
			n.poke()
			return nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 && old.ID != 0 && kvs[0].Lease == int64(old.ID) && attempt == 0 {
			// Our own registration, on a lease we gave up for lost.
			n.revoke(old.ID)
			continue
		}
		n.revoke(grant.ID)
		var holder NodeInfo
		if len(kvs) == 1 {
			_ = json.Unmarshal(kvs[0].Value, &holder)
		}
		return &TakenError{Node: n.cfg.Node, Prefix: n.cfg.Prefix, Holder: holder}
	}
}

// info returns the registration's value. n.mu is held.
func (n *Node) info() NodeInfo {
	host, _ := os.Hostname()
	return NodeInfo{
		Version:    n.opts.Version,
		PID:        os.Getpid(),
		Profile:    n.profile,
		Labels:     n.cfg.Labels,
		ConfigHash: fileHash(n.opts.ConfigPath),
		StartedAt:  n.started.UTC(),
		Addr:       host,
	}
}

// fileHash returns the first 12 hex digits of the SHA-256 of the file,
// or "" when it cannot be read.
func fileHash(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func (n *Node) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DialTimeout)
	defer cancel()
	_, _ = n.cli.Revoke(ctx, id)
}

// poke wakes the publisher.
func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// setLink records whether etcd answers, logging only the changes.
func (n *Node) setLink(ok bool, err error) {
	n.mu.Lock()
	was := n.linkLost
	n.linkLost = !ok
	n.mu.Unlock()
	switch {
	case ok && was:
		n.log.Info("cluster link is back", "node", n.cfg.Node)
	case !ok && !was:
		n.log.Warn("cluster link lost; local daemons are not affected", "node", n.cfg.Node, "error", err)
	}
}

// Run keeps the node's lease, publishes the status and events of its
// daemons and applies the requests addressed to it, until ctx is done. It
// then records the node as down in members/<node> and revokes the lease,
// so that its keys vanish at once, and releases what New took. Cancel ctx
// after the supervisor's Run has returned.
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		n.intake(ctx)
	}()
	go func() {
		defer wg.Done()
		n.place(ctx)
	}()
	go func() {
		defer wg.Done()
		n.keep(ctx)
	}()
	n.publish(ctx)
	wg.Wait()
	n.leave()
	n.unsubscribe()
	n.Close()
	return nil
}

// leave writes members/<node> and revokes the lease.
func (n *Node) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DialTimeout)
	defer cancel()
	member, _ := json.Marshal(MemberInfo{LastSeen: time.Now().UTC(), Version: n.opts.Version})
	if _, err := n.cli.Put(ctx, n.keys.Member(n.cfg.Node), string(member)); err != nil {
		n.log.Warn("cannot record the node's stop in etcd", "error", err)
	}
	if id := n.Lease().ID; id != 0 {
		if _, err := n.cli.Revoke(ctx, id); err != nil {
			n.log.Warn("cannot revoke the node's lease; its keys expire with it", "error", err)
		}
	}
}

// keep renews the lease every TTL/8 until ctx is done. A renewal gets a
// quarter of the TTL; one that finds the lease gone tells the publisher.
func (n *Node) keep(ctx context.Context) {
	interval := n.cfg.TTL / 8
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		cur := n.Lease()
		if cur.ID != 0 {
			l, err := n.renew.renew(ctx, cur.ID, n.cfg.TTL/4)
			switch {
			case err == nil:
				n.mu.Lock()
				if n.lease.ID == l.ID {
					n.lease = l
				}
				n.mu.Unlock()
				n.setLink(true, nil)
				select {
				case n.renewed <- struct{}{}:
				default:
				}
			case errors.Is(err, errLeaseGone):
				if left := cur.Deadline - Now(); left > 0 {
					n.log.Warn("etcd revoked the node's lease before its deadline: a stale etcd leader (etcd-io/etcd#15247) or a revoke by hand",
						"lease", int64(cur.ID), "left", left.Round(time.Millisecond))
				}
				n.mu.Lock()
				if n.lease.ID == cur.ID {
					n.lease = Lease{}
				}
				n.mu.Unlock()
				n.setLink(false, err)
				select {
				case n.leaseGon <- struct{}{}:
				default:
				}
			case ctx.Err() != nil:
				return
			default:
				// Lost only once half the TTL passed without a renewal:
				// one slow member is not a lost link.
				if Now() > cur.Deadline-cur.TTL/2 {
					n.setLink(false, err)
				}
			}
		}
		t.Reset(max(0, interval-time.Since(start)))
	}
}

// intake moves the supervisor's events into the node's queue, never
// blocking: it marks the status dirty and queues the event when the rate
// limit lets it through. A subscription the supervisor dropped is taken
// again, and the whole status published afresh.
func (n *Node) intake(ctx context.Context) {
	ch := n.events
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				select {
				case <-n.sup.Done():
					<-ctx.Done()
					return
				default:
				}
				n.log.Warn("cluster publisher fell behind the events; republishing the status")
				ch, n.unsubscribe = n.sup.Subscribe()
				n.mu.Lock()
				n.dirty = true
				n.mu.Unlock()
				n.poke()
				continue
			}
			n.take(e)
		}
	}
}

// take records one event.
func (n *Node) take(e supervisor.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dirty = true
	switch e.Type {
	case supervisor.ProfileChanged:
		n.profile, n.infoDirty = e.Profile, true
	case supervisor.ConfigReloaded:
		n.infoDirty = true
	}
	if !n.bucket.take(time.Now()) || len(n.queue) >= maxQueued {
		n.dropped++
	} else if b, err := withNode(e, n.cfg.Node); err == nil {
		n.queue = append(n.queue, b)
	}
	n.poke()
}

// withNode returns the JSON of v with a "node" field.
func withNode(v any, node string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["node"], _ = json.Marshal(node)
	return json.Marshal(m)
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
