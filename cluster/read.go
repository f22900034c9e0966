package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// pageSize is how many keys one read of a range returns at most.
const pageSize = 5000

// State is the whole cluster as `ringsup ctl --cluster status --json`
// prints it, read at one revision.
type State struct {
	Revision int64                `json:"revision"`
	Nodes    map[string]NodeState `json:"nodes"`
}

// NodeState is one node: its registration when it is up, its member
// record, and its daemons' status objects.
type NodeState struct {
	Up bool `json:"up"`
	NodeInfo
	Member  *MemberInfo                `json:"member,omitempty"`
	Daemons map[string]json.RawMessage `json:"daemons,omitempty"`
	// Revs is the revision each daemon's status was last written at: a
	// reader of the events can tell which are newer than it.
	Revs map[string]int64 `json:"-"`
}

// Read reads every node, member and daemon status of the cluster at one
// revision, in pages.
func Read(ctx context.Context, cli *clientv3.Client, keys Keys) (*State, error) {
	nodes, rev, err := rangePrefix(ctx, cli, keys.Nodes(), 0)
	if err != nil {
		return nil, err
	}
	// The members while the statuses, many more, come in.
	var members []*mvccpb.KeyValue
	merr := make(chan error, 1)
	go func() {
		var err error
		members, _, err = rangePrefix(ctx, cli, keys.Members(), rev)
		merr <- err
	}()
	statuses, _, err := rangePrefix(ctx, cli, keys.Statuses(), rev)
	if err := <-merr; err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	st := &State{Revision: rev, Nodes: make(map[string]NodeState)}
	node := func(name string) NodeState {
		ns, ok := st.Nodes[name]
		if !ok {
			ns.Daemons = make(map[string]json.RawMessage)
			ns.Revs = make(map[string]int64)
		}
		return ns
	}
	for _, kv := range members {
		p := split(string(kv.Key), keys.Members())
		if len(p) != 1 {
			continue
		}
		ns := node(p[0])
		var m MemberInfo
		if json.Unmarshal(kv.Value, &m) == nil {
			ns.Member = &m
			ns.Version = m.Version
		}
		st.Nodes[p[0]] = ns
	}
	for _, kv := range nodes {
		p := split(string(kv.Key), keys.Nodes())
		if len(p) != 1 {
			continue
		}
		ns := node(p[0])
		if json.Unmarshal(kv.Value, &ns.NodeInfo) == nil {
			ns.Up = true
		}
		st.Nodes[p[0]] = ns
	}
	for _, kv := range statuses {
		p := split(string(kv.Key), keys.Statuses())
		if len(p) != 2 {
			continue
		}
		ns := node(p[0])
		ns.Daemons[p[1]] = json.RawMessage(kv.Value)
		ns.Revs[p[1]] = kv.ModRevision
		st.Nodes[p[0]] = ns
	}
	return st, nil
}

// rangePrefix reads every key under prefix at rev (0: the current
// revision), pageSize at a time, and returns them with the revision read.
func rangePrefix(ctx context.Context, cli *clientv3.Client, prefix string, rev int64) ([]*mvccpb.KeyValue, int64, error) {
	var out []*mvccpb.KeyValue
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, from, opts...)
		if err != nil {
			return nil, 0, unreachable(cli, fmt.Errorf("cannot read the cluster: %w", err))
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		out = append(out, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Filter keeps the nodes and daemons named by args (NODE or NODE/DAEMON);
// an unknown one is an error shaped like local ctl's.
func (st *State) Filter(args []string) error {
	if len(args) == 0 {
		return nil
	}
	keep := make(map[string]map[string]bool) // node -> daemons; nil: all
	all := make(map[string]bool)
	for _, a := range args {
		node, daemon, hasDaemon := strings.Cut(a, "/")
		ns, ok := st.Nodes[node]
		if !ok {
			return &UnknownNodeError{Name: node}
		}
		if !hasDaemon {
			all[node] = true
			keep[node] = nil
			continue
		}
		if _, ok := ns.Daemons[daemon]; !ok {
			return fmt.Errorf("unknown daemon %q on node %q", daemon, node)
		}
		if !all[node] {
			if keep[node] == nil {
				keep[node] = make(map[string]bool)
			}
			keep[node][daemon] = true
		}
	}
	for name, ns := range st.Nodes {
		ds, ok := keep[name]
		if !ok {
			delete(st.Nodes, name)
			continue
		}
		if all[name] {
			continue
		}
		for d := range ns.Daemons {
			if !ds[d] {
				delete(ns.Daemons, d)
			}
		}
	}
	return nil
}

// Names returns the node names of st in order.
func (st *State) Names() []string {
	names := make([]string, 0, len(st.Nodes))
	for n := range st.Nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Events watches the events of every node, or of node only when it is
// not empty, from revision since (0: from now), and calls f with each
// one's JSON until ctx is done or f fails.
func Events(ctx context.Context, cli *clientv3.Client, keys Keys, node string, since int64, f func([]byte) error) error {
	key, opts := keys.Events(), []clientv3.OpOption{clientv3.WithPrefix()}
	if node != "" {
		key, opts = keys.NodeEvents(node), nil
	}
	if since > 0 {
		opts = append(opts, clientv3.WithRev(since))
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range cli.Watch(wctx, key, opts...) {
		if err := wr.Err(); err != nil {
			return fmt.Errorf("cannot watch the cluster's events: %w", err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				if err := f(ev.Kv.Value); err != nil {
					return err
				}
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return io.ErrUnexpectedEOF
}

// WriteJSON writes st as json.MarshalIndent would with two spaces, in a
// single pass over the daemons' status objects: re-encoding 10,000 of
// them through MarshalIndent costs more than reading them from etcd.
func (st *State) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"revision\": %d,\n  \"nodes\": {", st.Revision)
	for i, name := range st.Names() {
		ns := st.Nodes[name]
		if i > 0 {
			buf.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		fmt.Fprintf(&buf, "\n    %s: ", key)
		// The node's own fields, then its daemons.
		daemons := ns.Daemons
		ns.Daemons = nil
		head, err := json.MarshalIndent(ns, "    ", "  ")
		if err != nil {
			return err
		}
		buf.Write(bytes.TrimSuffix(head, []byte("\n    }")))
		buf.WriteString(",\n      \"daemons\": {")
		for j, d := range slices.Sorted(maps.Keys(daemons)) {
			if j > 0 {
				buf.WriteByte(',')
			}
			dk, _ := json.Marshal(d)
			fmt.Fprintf(&buf, "\n        %s: ", dk)
			if !indentCompact(&buf, daemons[d], "        ") {
				if err := json.Indent(&buf, daemons[d], "        ", "  "); err != nil {
					return fmt.Errorf("cannot print the status of %s/%s: %w", name, d, err)
				}
			}
		}
		if len(daemons) > 0 {
			buf.WriteString("\n      ")
		}
		buf.WriteString("}\n    }")
	}
	if len(st.Nodes) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("}\n}\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// indentCompact appends src, valid JSON without whitespace outside its
// strings (as json.Marshal writes it), indented as json.Indent would with
// prefix and two spaces, and reports true; it appends nothing and reports
// false when src is not valid JSON or has such whitespace. It is json.Indent
// without the state machine, which checks every byte.
func indentCompact(dst *bytes.Buffer, src []byte, prefix string) bool {
	if !json.Valid(src) {
		return false
	}
	start := dst.Len()
	depth := 0
	newline := func() {
		dst.WriteByte('\n')
		dst.WriteString(prefix)
		for range depth {
			dst.WriteString("  ")
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			dst.Write(src[i : j+1])
			i = j
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst.Write(src[i : i+2])
				i++
				continue
			}
			dst.WriteByte(c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst.WriteByte(c)
		case ',':
			dst.WriteByte(c)
			newline()
		case ':':
			dst.WriteString(": ")
		case ' ', '\t', '\n', '\r':
			dst.Truncate(start)
			return false
		default:
			dst.WriteByte(c)
		}
	}
	return true
}
