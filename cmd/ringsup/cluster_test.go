package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/internal/etcdtest"
)

const testPrefix = "/ringsup-test"

// clusterNode is a ringsup of a cluster test, with its own directory.
type clusterNode struct {
	*ringsupProc
	name, dir, config string
}

// nodeConfig returns the config of a node of the cluster at endpoints
// running daemons (TOML [daemons.*] tables).
func nodeConfig(endpoints []string, name, extra, daemons string) string {
	eps, _ := json.Marshal(endpoints)
	return fmt.Sprintf(`
[supervisor]
log_dir = "logs"
stop_timeout = "2s"

[cluster]
endpoints = %s
node = %q
prefix = %q
ttl = "3s"
%s
%s`, eps, name, testPrefix, extra, daemons)
}

// startNode writes cfg to a new directory and runs ringsup there, waiting
// until its socket answers.
func startNode(t *testing.T, name, cfg string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRingsup(t, dir, "--config", path)
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	// The socket answers first; registration follows.
	eventually(t, 10*time.Second, name+" registered", func() bool {
		st, err := clusterState(t, path)
		return err == nil && st.Nodes[name].Up
	})
	return &clusterNode{ringsupProc: r, name: name, dir: dir, config: path}
}

// stop stops the node with SIGTERM and checks that it exits 0.
func (n *clusterNode) stop(t *testing.T) {
	t.Helper()
	syscall.Kill(n.pid, syscall.SIGTERM)
	if x := waitExit(t, n.pid, 30*time.Second); x.Code != 0 {
		t.Errorf("ringsup %s exit = %v, want 0\n%s", n.name, x, n.output)
	}
}

// clusterCtl runs `ringsup ctl --config cfg --cluster args...` in the test
// process and returns its output, or its one-line error.
func clusterCtl(cfg string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	argv := append([]string{"ringsup", "ctl", "--config", cfg, "--cluster"}, args...)
	err := run(context.Background(), argv, &out, &errOut)
	if err != nil {
		return out.String(), fmt.Errorf("%s", strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// clusterState runs `ctl --cluster status --json`.
func clusterState(t testing.TB, cfg string) (*cluster.State, error) {
	out, err := clusterCtl(cfg, "status", "--json")
	if err != nil {
		return nil, err
	}
	var st cluster.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ctl --cluster status --json: %v\n%s", err, out)
	}
	return &st, nil
}

// daemonInfo is the part of a published status object the tests read.
type daemonInfo struct {
	State    string `json:"state"`
	PID      int    `json:"pid"`
	LastExit *struct {
		Signal string `json:"signal"`
	} `json:"last_exit"`
	Singleton *struct {
		Owner string `json:"owner"`
		Fence int64  `json:"fence"`
	} `json:"singleton"`
}

func daemonOf(st *cluster.State, node, daemon string) (daemonInfo, bool) {
	var d daemonInfo
	raw, ok := st.Nodes[node].Daemons[daemon]
	if !ok {
		return d, false
	}
	_ = json.Unmarshal(raw, &d)
	return d, true
}

// etcdClient returns a client of the test's etcd.
func etcdClient(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// keysUnder lists the keys under prefix.
func keysUnder(t testing.TB, cli *clientv3.Client, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("cannot read etcd: %v", err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

const sleeper = `
[daemons.web]
command = "echo $$ > web.pid; echo $RINGSUP_NODE > web.node; exec sleep 1000"
backoff_min = "5s"

[daemons.selfplay]
command = "echo $$ > selfplay.pid; exec sleep 1000"
`

// TestClusterNodesRegisterAndPublish: tests 2 and 3 of the cluster issue.
func TestClusterNodesRegisterAndPublish(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	eps := etcd.Endpoints()
	var nodes []*clusterNode
	started := time.Now()
	for i, labels := range []string{`role = "selfplay"`, `role = "trainer"`, `gpu = "a100"`} {
		name := fmt.Sprintf("n%d", i+1)
		nodes = append(nodes, startNode(t, name, nodeConfig(eps, name, "labels = { "+labels+" }", sleeper)))
	}
	cfg := nodes[0].config

	// Every node and every daemon, running, within 3 s.
	var st *cluster.State
	eventually(t, 3*time.Second, "3 nodes and 6 running daemons in ctl --cluster status", func() bool {
		var err error
		if st, err = clusterState(t, cfg); err != nil {
			return false
		}
		for _, n := range nodes {
			for _, d := range []string{"web", "selfplay"} {
				if info, ok := daemonOf(st, n.name, d); !ok || info.State != "running" || !st.Nodes[n.name].Up {
					return false
				}
			}
		}
		return len(st.Nodes) == 3
	})
	t.Logf("all 3 nodes and 6 daemons listed %v after the first node's start", time.Since(started).Round(time.Millisecond))
	if got := st.Nodes["n2"].Labels["role"]; got != "trainer" {
		t.Errorf("n2 labels = %v, want role=trainer", st.Nodes["n2"].Labels)
	}
	if b, _ := os.ReadFile(filepath.Join(nodes[1].dir, "web.node")); strings.TrimSpace(string(b)) != "n2" {
		t.Errorf("RINGSUP_NODE of n2's web = %q, want n2", b)
	}

	// A crash shows within 2 s.
	pid := readPID(t, filepath.Join(nodes[0].dir, "web.pid"))
	syscall.Kill(pid, syscall.SIGKILL)
	crashed := time.Now()
	eventually(t, 2*time.Second, "n1/web restarting after SIGKILL in ctl --cluster status", func() bool {
		st, err := clusterState(t, cfg)
		if err != nil {
			return false
		}
		d, _ := daemonOf(st, "n1", "web")
		return d.State == "restarting" && d.LastExit != nil && d.LastExit.Signal == "SIGKILL"
	})
	t.Logf("crash of n1/web published %v after it", time.Since(crashed).Round(time.Millisecond))

	// SIGKILL: down within TTL + 1 s, its keys gone.
	cli := etcdClient(t, eps)
	syscall.Kill(nodes[2].pid, syscall.SIGKILL)
	killed := time.Now()
	waitExit(t, nodes[2].pid, 10*time.Second)
	eventually(t, 4*time.Second, "n3 down after SIGKILL", func() bool {
		st, err := clusterState(t, cfg)
		return err == nil && !st.Nodes["n3"].Up && len(st.Nodes["n3"].Daemons) == 0
	})
	t.Logf("n3 shown down %v after SIGKILL (TTL 3s)", time.Since(killed).Round(time.Millisecond))
	for _, k := range keysUnder(t, cli, testPrefix) {
		if strings.Contains(k, "/n3") && !strings.Contains(k, "/members/") {
			t.Errorf("key %s of the killed node is left", k)
		}
	}

	// A graceful stop removes them at once.
	nodes[1].stop(t)
	var left []string
	for _, k := range keysUnder(t, cli, testPrefix) {
		if strings.Contains(k, "/n2") && !strings.Contains(k, "/members/") {
			left = append(left, k)
		}
	}
	if len(left) > 0 {
		t.Errorf("keys of n2 left right after its graceful stop: %v", left)
	}
	if st, err := clusterState(t, cfg); err != nil || st.Nodes["n2"].Up || st.Nodes["n2"].Member == nil {
		t.Errorf("after n2's stop: %+v, %v; want n2 down with its member record", st.Nodes["n2"], err)
	}
	out, err := clusterCtl(cfg, "status")
	if err != nil || !strings.Contains(out, "n2    down") {
		t.Errorf("ctl --cluster status = %q, %v; want n2 down", out, err)
	}
	nodes[0].stop(t)
}

// TestClusterDuplicateNodeRefused: test 4. A second ringsup with the name
// of a live node exits 1 with one line, and starts nothing.
func TestClusterDuplicateNodeRefused(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	first := startNode(t, "n1", nodeConfig(etcd.Endpoints(), "n1", "", sleeper))
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	os.WriteFile(path, []byte(nodeConfig(etcd.Endpoints(), "n1", "", sleeper)), 0o644)
	second := startRingsup(t, dir, "--config", path)
	x := waitExit(t, second.pid, 30*time.Second)
	if x.Code != 1 {
		t.Errorf("second ringsup as n1: exit %v, want 1\n%s", x, second.output)
	}
	var errs []string
	for _, l := range strings.Split(second.output.String(), "\n") {
		if strings.HasPrefix(l, "ringsup: ") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], `cannot register node "n1": another ringsup is registered under that name`) {
		t.Errorf("second ringsup said %q, want one line refusing the name\n%s", errs, second.output)
	}
	if _, err := os.Stat(filepath.Join(dir, "web.pid")); err == nil {
		t.Error("the refused ringsup started a daemon")
	}

	// [cluster] cannot change in a reload: it is refused, naming the key.
	os.WriteFile(first.config, []byte(nodeConfig(etcd.Endpoints(), "n9", "", sleeper)), 0o644)
	msg := ctlFails(t, first.dir, "--config", first.config, "reload")
	if !strings.Contains(msg, "cluster.node changed; restart ringsup to apply it") {
		t.Errorf("reload of a new node name: %q", msg)
	}
	if st, err := clusterState(t, first.config); err != nil || !st.Nodes["n1"].Up || st.Nodes["n9"].Up {
		t.Errorf("after the refused reload: %v, %v; want n1 up and no n9", st, err)
	}
	first.stop(t)
}

// TestClusterRemoteControlAndEvents: tests 8 and 9. A restart sent from
// n1's config restarts the daemon on n2; a dead node's request times out
// with a clear message; `ctl --cluster events` shows the events of every
// node, each with node and daemon_type.
func TestClusterRemoteControlAndEvents(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	eps := etcd.Endpoints()
	var nodes []*clusterNode
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, startNode(t, name, nodeConfig(eps, name, "", sleeper)))
	}
	cfg := nodes[0].config
	// From the revision before the restarts: the watch of a new process
	// may start after them.
	st, err := clusterState(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := startCtl(t, nodes[0].dir, "--config", cfg, "--cluster", "events", "--since", fmt.Sprint(st.Revision+1))
	// The same stream, filtered by ctl: the starts of selfplay only.
	starts := startCtl(t, nodes[0].dir, "--config", cfg, "--cluster", "events", "--since", fmt.Sprint(st.Revision+1),
		"--type", "DAEMON_STARTED", "--daemon", "selfplay")

	// Every node gets a remote restart; its events come back through etcd.
	for _, n := range nodes {
		pidFile := filepath.Join(n.dir, "selfplay.pid")
		old := readPID(t, pidFile)
		if _, err := clusterCtl(cfg, "restart", n.name+"/selfplay"); err != nil {
			t.Fatalf("ctl --cluster restart %s/selfplay: %v", n.name, err)
		}
		eventually(t, 10*time.Second, n.name+"/selfplay restarted with a new pid", func() bool {
			b, _ := os.ReadFile(pidFile)
			return strings.HasSuffix(string(b), "\n") && strings.TrimSpace(string(b)) != fmt.Sprint(old)
		})
	}
	seen := make(map[string]bool)
	eventually(t, 10*time.Second, "ctl --cluster events shows a DAEMON_STARTED of selfplay from each node", func() bool {
		for _, line := range strings.Split(events.stdout.String(), "\n") {
			var e struct {
				Type   string `json:"type"`
				Node   string `json:"node"`
				Daemon string `json:"daemon_type"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == "DAEMON_STARTED" && e.Daemon == "selfplay" {
				seen[e.Node] = true
			}
		}
		return len(seen) == 3
	})
	syscall.Kill(events.pid, syscall.SIGTERM)
	events.wait(t, 10*time.Second)
	eventually(t, 10*time.Second, "ctl --cluster events --type DAEMON_STARTED --daemon selfplay shows 3 starts", func() bool {
		return strings.Count(starts.stdout.String(), "\n") >= 3
	})
	syscall.Kill(starts.pid, syscall.SIGTERM)
	starts.wait(t, 10*time.Second)
	for _, line := range strings.Split(strings.TrimSpace(starts.stdout.String()), "\n") {
		var e struct {
			Type   string `json:"type"`
			Daemon string `json:"daemon_type"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Type != "DAEMON_STARTED" || e.Daemon != "selfplay" {
			t.Errorf("filtered ctl --cluster events printed %q, want DAEMON_STARTED of selfplay only", line)
		}
	}

	// Errors read as local ctl's.
	if _, err := clusterCtl(cfg, "restart", "n2/nope"); err == nil || err.Error() != `ringsup ctl: unknown daemon "nope"` {
		t.Errorf("restart of an unknown daemon: %v", err)
	}
	if _, err := clusterCtl(cfg, "restart", "n9/web"); err == nil || err.Error() != `ringsup ctl: unknown node "n9"` {
		t.Errorf("restart on an unknown node: %v", err)
	}
	if _, err := clusterCtl(cfg, "status", "n1/nope"); err == nil || !strings.Contains(err.Error(), `unknown daemon "nope"`) {
		t.Errorf("status of an unknown daemon: %v", err)
	}

	// A node that died does not answer: the request times out.
	syscall.Kill(nodes[2].pid, syscall.SIGKILL)
	waitExit(t, nodes[2].pid, 10*time.Second)
	start := time.Now()
	_, err = clusterCtl(cfg, "--cluster-timeout", "1s", "restart", "n3/web")
	if err == nil || !strings.Contains(err.Error(), `node "n3" did not answer within 1s`) {
		t.Errorf("restart on a dead node: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("restart on a dead node took %v, want about 1s", d)
	}
	// etcd unreachable: one line naming the endpoints, within the dial
	// timeout (2s).
	start = time.Now()
	_, err = clusterCtl(cfg, "--etcd", "127.0.0.1:1,127.0.0.1:2", "status")
	if err == nil || err.Error() != "ringsup ctl: cannot reach etcd at 127.0.0.1:1, 127.0.0.1:2: context deadline exceeded" {
		t.Errorf("status with etcd unreachable: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("status with etcd unreachable took %v, want about the dial timeout, 2s", d)
	}
	for _, n := range nodes[:2] {
		n.stop(t)
	}
}
