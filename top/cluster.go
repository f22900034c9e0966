package top

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/supervisor"
)

// The events a Cluster stream makes up from the nodes' registrations:
// no node can publish its own death.
const (
	// NodeUp: a node registered (Node names it).
	NodeUp supervisor.EventType = "NODE_UP"
	// NodeDown: a node's registration went away, because it stopped or
	// its lease expired.
	NodeDown supervisor.EventType = "NODE_DOWN"
)

// ErrNotOffered is the error of a Source asked for what it cannot do from
// where the view runs; the view says so in its status line.
var ErrNotOffered = errors.New("not offered by the cluster view")

// Cluster is the Source of every node of a cluster, read from etcd:
// the status and events the nodes publish, and actions sent through
// their commands/<node>/ keys, as `ringsup ctl --cluster` does.
//
// Logs and profile switches are not offered: the nodes publish neither
// their output nor their config's profiles to etcd. Their methods return
// an error wrapping ErrNotOffered that names the local command to run on
// the node's machine.
type Cluster struct {
	Client *clientv3.Client
	Keys   cluster.Keys
	// Timeout bounds the wait for a node's answer to an action.
	Timeout time.Duration
	// Host is this machine's name: the daemons of the nodes registered
	// from it are sampled from /proc. os.Hostname when empty.
	Host string
}

// published is a daemon's status object as a node publishes it: `ctl
// status --json`'s, with the time it runs since instead of its uptime,
// and its singleton's holder.
type published struct {
	supervisor.DaemonStatus
	Since     float64 `json:"since"`
	Singleton *struct {
		Owner string `json:"owner"`
	} `json:"singleton"`
}

// Snapshot reads every node and daemon at one revision.
func (c Cluster) Snapshot(ctx context.Context) (Snapshot, error) {
	st, err := cluster.Read(ctx, c.Client, c.Keys)
	if err != nil {
		return Snapshot{}, err
	}
	host := c.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	now := time.Now()
	var snap Snapshot
	for _, name := range st.Names() {
		ns := st.Nodes[name]
		n := Node{Name: name, Up: ns.Up, Local: ns.Up && ns.Addr == host, Profile: ns.Profile, PID: ns.PID,
			Daemons: make(map[string]Daemon, len(ns.Daemons))}
		for d, raw := range ns.Daemons {
			var p published
			if err := json.Unmarshal(raw, &p); err != nil {
				p.State, p.LastError = supervisor.Failed, fmt.Sprintf("cannot read its published status: %v", err)
			}
			if p.Since > 0 && p.PID != 0 {
				p.UptimeS = max(0, float64(now.UnixNano())/1e9-p.Since)
			}
			dd := Daemon{DaemonStatus: p.DaemonStatus, Rev: ns.Revs[d]}
			if p.Singleton != nil && p.Singleton.Owner != name {
				dd.Owner = p.Singleton.Owner
			}
			n.Daemons[d] = dd
		}
		snap.Nodes = append(snap.Nodes, n)
	}
	return snap, nil
}

// Subscribe watches the events of every node, and their registrations,
// from the current revision on.
func (c Cluster) Subscribe(ctx context.Context) (Stream, error) {
	resp, err := c.Client.Get(ctx, c.Keys.Nodes(), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("cannot read the cluster: %w", err)
	}
	from := clientv3.WithRev(resp.Header.Revision + 1)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	s := &clusterStream{ctx: ctx, cancel: cancel,
		events: c.Client.Watch(wctx, c.Keys.Events(), clientv3.WithPrefix(), from),
		nodes:  c.Client.Watch(wctx, c.Keys.Nodes(), clientv3.WithPrefix(), from),
		keys:   c.Keys}
	return s, nil
}

// clusterStream merges the watch of the events with that of the
// registrations. Their order between the two is the order they are read.
type clusterStream struct {
	ctx           context.Context
	cancel        context.CancelFunc
	events, nodes clientv3.WatchChan
	keys          cluster.Keys
	queue         []Event
}

func (s *clusterStream) Next() (Event, error) {
	for len(s.queue) == 0 {
		var (
			wr       clientv3.WatchResponse
			ok, node bool
		)
		select {
		case wr, ok = <-s.events:
		case wr, ok = <-s.nodes:
			node = true
		}
		if !ok && s.ctx.Err() != nil {
			return Event{}, s.ctx.Err()
		}
		if !ok {
			return Event{}, fmt.Errorf("cannot watch the cluster: %w", io.ErrUnexpectedEOF)
		}
		if err := wr.Err(); err != nil {
			return Event{}, fmt.Errorf("cannot watch the cluster: %w", err)
		}
		for _, ev := range wr.Events {
			if node {
				s.nodeEvent(ev)
				continue
			}
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			e := Event{Raw: json.RawMessage(ev.Kv.Value), Rev: ev.Kv.ModRevision}
			var n struct {
				Node string `json:"node"`
			}
			if json.Unmarshal(ev.Kv.Value, &e.Event) != nil || json.Unmarshal(ev.Kv.Value, &n) != nil {
				continue // not an event: nothing to show
			}
			e.Node = n.Node
			s.queue = append(s.queue, e)
		}
	}
	e := s.queue[0]
	s.queue = s.queue[1:]
	return e, nil
}

// nodeEvent queues NodeUp for a new registration and NodeDown for one
// deleted; an update of a registration (a profile switch) has its own
// event.
func (s *clusterStream) nodeEvent(ev *clientv3.Event) {
	name := string(ev.Kv.Key[len(s.keys.Nodes()):])
	typ := NodeDown
	switch {
	case ev.Type == clientv3.EventTypePut && ev.IsCreate():
		typ = NodeUp
	case ev.Type == clientv3.EventTypePut:
		return
	}
	now := float64(time.Now().UnixNano()) / 1e9
	e := Event{Node: name, Event: supervisor.Event{Type: typ, Timestamp: now}}
	e.Raw, _ = json.Marshal(struct {
		Type      supervisor.EventType `json:"type"`
		Timestamp float64              `json:"timestamp"`
		Node      string               `json:"node"`
	}{typ, now, name})
	s.queue = append(s.queue, e)
}

func (s *clusterStream) Close() { s.cancel() }

// Act sends the action to the daemon's node and waits for its answer.
func (c Cluster) Act(ctx context.Context, a Action) error {
	req := cluster.Request{Names: []string{a.Daemon.Name}}
	switch a.Verb {
	case Restart, ForceRestart:
		req.Op, req.Force = "restart", a.Verb == ForceRestart
	case Stop:
		req.Op = "stop"
	case Start:
		req.Op = "start"
	default:
		return fmt.Errorf("cannot %v", a.Verb)
	}
	node := a.Daemon.Node
	if node == "" {
		// The view does not name the node of a one-node cluster.
		snap, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		if len(snap.Nodes) != 1 {
			return fmt.Errorf("cannot %v %s: which node?", a.Verb, a.Daemon.Name)
		}
		node = snap.Nodes[0].Name
	}
	return cluster.Send(ctx, c.Client, c.Keys, node, req, c.Timeout)
}

// Profiles is not offered: the nodes do not publish their config's
// profiles.
func (c Cluster) Profiles(_ context.Context, node string) ([]string, error) {
	return nil, fmt.Errorf("%w: run ringsup ctl profile on node %s", ErrNotOffered, node)
}

// SetProfile is not offered; see Profiles.
func (c Cluster) SetProfile(_ context.Context, node, _ string) error {
	return fmt.Errorf("%w: run ringsup ctl profile on node %s", ErrNotOffered, node)
}

// Logs is not offered: the nodes keep their daemons' output on their own
// machines.
func (c Cluster) Logs(_ context.Context, d Ref, _ int, _ io.Writer) error {
	return fmt.Errorf("%w: run ringsup ctl logs %s on node %s", ErrNotOffered, d.Name, d.Node)
}
