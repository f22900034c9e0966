package top

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/internal/etcdtest"
	"github.com/ringrift/ringsup/supervisor"
)

// TestClusterSource reads what nodes publish, written by hand into a
// real etcd: the snapshot (a node up on this machine, one down, a
// singleton held elsewhere, the uptime from the published start), and the
// stream (a node's event with its node and revision, a node coming and
// going). The whole path with real nodes is TestCtlClusterTop in
// cmd/ringsup.
func TestClusterSource(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli, err := cluster.Dial(&config.Cluster{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	keys := cluster.Keys{Prefix: "/top-test"}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	put := func(k, v string) int64 {
		t.Helper()
		resp, err := cli.Put(ctx, k, v)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	since := float64(time.Now().Add(-90*time.Second).UnixNano()) / 1e9
	put(keys.Node("n1"), `{"pid":100,"profile":"full","addr":"here"}`)
	put(keys.Member("n2"), `{"last_seen":"2026-12-07T03:00:00Z","version":"v1"}`)
	webRev := put(keys.Status("n1", "web"), `{"state":"running","pid":4301,"health":"none","restart_count":2,"since":`+strconv.FormatFloat(since, 'f', 3, 64)+`}`)
	put(keys.Status("n1", "trainer"), `{"state":"stopped","pid":0,"health":"none","singleton":{"owner":"n3","fence":7}}`)

	src := Cluster{Client: cli, Keys: keys, Timeout: time.Second, Host: "here"}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Nodes) != 2 {
		t.Fatalf("nodes = %+v, want n1 and n2", snap.Nodes)
	}
	n1, n2 := snap.Nodes[0], snap.Nodes[1]
	if n1.Name != "n1" || !n1.Up || !n1.Local || n1.PID != 100 || n1.Profile != "full" || n2.Name != "n2" || n2.Up || n2.Local {
		t.Errorf("nodes = %+v / %+v", n1, n2)
	}
	web := n1.Daemons["web"]
	if web.State != supervisor.Running || web.PID != 4301 || web.RestartCount != 2 || web.Rev != webRev || web.UptimeS < 89 || web.UptimeS > 200 {
		t.Errorf("web = %+v, want running pid 4301, 2 restarts, rev %d, up about 90s", web, webRev)
	}
	if tr := n1.Daemons["trainer"]; tr.Owner != "n3" {
		t.Errorf("trainer = %+v, want held by n3", tr)
	}

	s, err := src.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evRev := put(keys.NodeEvents("n1"), `{"type":"DAEMON_STARTED","timestamp":1,"daemon_type":"web","pid":4400,"node":"n1"}`)
	put(keys.Node("n2"), `{"pid":200}`)
	put(keys.Node("n2"), `{"pid":200,"profile":"minimal"}`) // an update: no event
	if _, err := cli.Delete(ctx, keys.Node("n1")); err != nil {
		t.Fatal(err)
	}
	var got []Event
	for len(got) < 3 {
		e, err := s.Next()
		if err != nil {
			t.Fatalf("after %+v: %v", got, err)
		}
		got = append(got, e)
	}
	byType := map[supervisor.EventType]Event{}
	for _, e := range got {
		byType[e.Type] = e
	}
	if e := byType[supervisor.DaemonStarted]; e.Node != "n1" || e.Daemon != "web" || e.PID != 4400 || e.Rev != evRev {
		t.Errorf("event = %+v, want n1's start of web, rev %d", e, evRev)
	}
	if byType[NodeUp].Node != "n2" || byType[NodeDown].Node != "n1" {
		t.Errorf("events = %+v, want n2 up and n1 down", got)
	}

	// Not offered: logs and profiles say where to look.
	if err := src.Logs(ctx, Ref{Node: "n1", Name: "web"}, 10, nil); !errors.Is(err, ErrNotOffered) {
		t.Errorf("Logs = %v", err)
	}
	if _, err := src.Profiles(ctx, "n1"); !errors.Is(err, ErrNotOffered) {
		t.Errorf("Profiles = %v", err)
	}
	// An action goes through the cluster's command path, which knows
	// its nodes.
	var unknown *cluster.UnknownNodeError
	if err := src.Act(ctx, Action{Verb: Restart, Daemon: Ref{Node: "n9", Name: "web"}}); !errors.As(err, &unknown) {
		t.Errorf("Act on n9 = %v, want an unknown node", err)
	}
}
