package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Request is a start, stop or restart of daemons, left for a node under
// commands/<node>/<id>.
type Request struct {
	// Op is "start", "stop" or "restart".
	Op    string   `json:"op"`
	Names []string `json:"names"`
	Force bool     `json:"force,omitempty"`
}

// Result is a node's answer to a Request, under results/<node>/<id>.
type Result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// watchCommands lists the requests left for the node and watches for new
// ones. It returns the watch and what ends it.
func (n *Node) watchCommands(ctx context.Context) (clientv3.WatchChan, func()) {
	wctx, cancel := context.WithCancel(ctx)
	prefix := n.keys.Commands(n.cfg.Node)
	gctx, gcancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	resp, err := n.cli.Get(gctx, prefix, clientv3.WithPrefix())
	gcancel()
	if err != nil {
		// Watch from the registration: nothing older can be missed,
		// since the requests of a sender stay until it gives up.
		n.mu.Lock()
		rev := n.regRev
		n.mu.Unlock()
		return n.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev)), cancel
	}
	for _, kv := range resp.Kvs {
		n.apply(ctx, kv.Key, kv.Value, kv.CreateRevision, kv.Lease)
	}
	return n.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)), cancel
}

// apply carries out the request at key, as `ringsup ctl` would on this
// node, writes its result on the sender's lease and deletes the request,
// unless the request was replaced meanwhile.
func (n *Node) apply(ctx context.Context, key, value []byte, created, lease int64) {
	id := string(key[len(n.keys.Commands(n.cfg.Node)):])
	var req Request
	res := Result{OK: true}
	err := json.Unmarshal(value, &req)
	if err == nil {
		n.log.Info("request from the cluster", "op", req.Op, "daemons", req.Names, "force", req.Force)
		switch req.Op {
		case "start":
			err = n.sup.Start(req.Names...)
		case "stop":
			err = n.sup.Stop(req.Names...)
		case "restart":
			err = n.sup.Restart(req.Force, req.Names...)
		default:
			err = fmt.Errorf("unknown operation %q", req.Op)
		}
	} else {
		err = fmt.Errorf("malformed request: %w", err)
	}
	if err != nil {
		res = Result{Error: err.Error()}
	}
	b, _ := json.Marshal(res)
	var opts []clientv3.OpOption
	if lease != 0 {
		opts = append(opts, clientv3.WithLease(clientv3.LeaseID(lease)))
	}
	cctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	_, err = n.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(string(key)), "=", created)).
		Then(clientv3.OpPut(n.keys.Result(n.cfg.Node, id), string(b), opts...), clientv3.OpDelete(string(key))).
		Commit()
	if err != nil {
		n.log.Warn("cannot answer a request from the cluster", "id", id, "error", err)
	}
}

// NoAnswerError says that a node did not answer a request in time.
type NoAnswerError struct {
	Node    string
	Timeout time.Duration
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("node %q did not answer within %v (is its ringsup running? see ringsup ctl --cluster status)", e.Node, e.Timeout)
}

// Send leaves req for node and waits up to timeout for its result. An
// unknown node, a node that is down, or one that does not answer is an
// error; so is a result that is not OK (its error is the node's, as local
// ctl prints it).
func Send(ctx context.Context, cli *clientv3.Client, keys Keys, node string, req Request, timeout time.Duration) error {
	lctx, lcancel := context.WithTimeout(ctx, timeout)
	defer lcancel()
	if err := checkNode(lctx, cli, keys, node); err != nil {
		return err
	}
	ttl := int64((timeout+5*time.Second)/time.Second) + 1
	grant, err := cli.Grant(lctx, ttl)
	if err != nil {
		return unreachable(cli, fmt.Errorf("cannot send the request: %w", err))
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = cli.Revoke(rctx, grant.ID)
	}()
	id := fmt.Sprintf("%d-%d", time.Now().UnixNano(), grant.ID)
	b, _ := json.Marshal(req)
	put, err := cli.Put(lctx, keys.Command(node, id), string(b), clientv3.WithLease(grant.ID))
	if err != nil {
		return unreachable(cli, fmt.Errorf("cannot send the request: %w", err))
	}
	wctx, wcancel := context.WithCancel(lctx)
	defer wcancel()
	for wr := range cli.Watch(wctx, keys.Result(node, id), clientv3.WithRev(put.Header.Revision)) {
		for _, ev := range wr.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			var res Result
			if err := json.Unmarshal(ev.Kv.Value, &res); err != nil {
				return fmt.Errorf("malformed answer from node %q: %w", node, err)
			}
			if !res.OK {
				return errors.New(res.Error)
			}
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &NoAnswerError{Node: node, Timeout: timeout}
}

// UnknownNodeError reports a node name that no node has registered under.
type UnknownNodeError struct{ Name string }

func (e *UnknownNodeError) Error() string { return fmt.Sprintf("unknown node %q", e.Name) }

// DownError reports a node that is known but not running.
type DownError struct {
	Name     string
	LastSeen time.Time
}

func (e *DownError) Error() string {
	return fmt.Sprintf("node %q is down (last seen %s)", e.Name, e.LastSeen.Local().Format(time.RFC3339))
}

// checkNode returns nil when node is registered, or why not.
func checkNode(ctx context.Context, cli *clientv3.Client, keys Keys, node string) error {
	resp, err := cli.Txn(ctx).Then(clientv3.OpGet(keys.Node(node)), clientv3.OpGet(keys.Member(node))).Commit()
	if err != nil {
		return unreachable(cli, err)
	}
	if len(resp.Responses[0].GetResponseRange().Kvs) == 1 {
		return nil
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		var m MemberInfo
		_ = json.Unmarshal(kvs[0].Value, &m)
		return &DownError{Name: node, LastSeen: m.LastSeen}
	}
	return &UnknownNodeError{Name: node}
}
