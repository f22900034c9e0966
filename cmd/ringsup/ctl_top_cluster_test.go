package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ringrift/ringsup/internal/etcdtest"
	"github.com/ringrift/ringsup/top"
)

// topRow returns the line of the view's table that shows daemon under
// node's title, or "".
func topRow(screen, node, daemon string) string {
	in := false
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(strings.TrimPrefix(l, ">"))
		switch {
		case len(f) > 1 && f[0] == "──":
			in = f[1] == node
		case in && len(f) > 0 && f[0] == daemon:
			return l
		}
	}
	return ""
}

// TestCtlClusterTop runs `ringsup ctl --cluster top` in a real terminal
// (tmux) over three real nodes on one etcd: it shows every node's
// daemons under their node, a crash on another node than the config's,
// a restart sent from the keyboard to a remote node (which gets a new
// pid), what it does not offer for remote daemons, and a node that stops
// as down.
func TestCtlClusterTop(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	eps := etcd.Endpoints()
	var nodes []*clusterNode
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, startNode(t, name, nodeConfig(eps, name, "", sleeper)))
	}
	pid := func(n *clusterNode, daemon string) int {
		return readPID(t, filepath.Join(n.dir, daemon+".pid"))
	}
	shell := fmt.Sprintf(`env RINGSUP_TEST_AS_MAIN=1 GORACE=atexit_sleep_ms=0 %q ctl --config %q --cluster top; echo "top exited $?"; exec sleep 3600`,
		os.Args[0], nodes[0].config)
	tm := startTmux(t, nodes[0].dir, shell)
	want := []string{"cluster: 3 nodes", "r/R:restart"}
	s := tm.waitFor(":0", "every node's daemons with their pids", func(s string) bool {
		for _, n := range nodes {
			for _, d := range []string{"web", "selfplay"} {
				if !regexp.MustCompile(fmt.Sprintf(`%s +running +%d `, d, pid(n, d))).MatchString(topRow(s, n.name, d)) {
					return false
				}
			}
		}
		return strings.Contains(s, want[0]) && strings.Contains(s, want[1])
	})
	if strings.Contains(s, "down") {
		t.Errorf("a node shown down:\n%s", s)
	}

	// selfplay crashes on n2: the view shows its new process and the
	// restart.
	old := pid(nodes[1], "selfplay")
	syscall.Kill(old, syscall.SIGKILL)
	var now int
	tm.waitFor(":0", "n2/selfplay restarted once with a new pid", func(s string) bool {
		now = pid(nodes[1], "selfplay")
		return now != old && regexp.MustCompile(fmt.Sprintf(`selfplay +running +%d +\S+ +1 `, now)).MatchString(topRow(s, "n2", "selfplay"))
	})

	// A restart of n3/web from the keyboard goes through etcd to n3.
	old = pid(nodes[2], "web")
	tm.keys(":0", "End", "r")
	tm.waitScreen(":0", "restart n3/web? y to confirm")
	tm.keys(":0", "y")
	s = tm.waitScreen(":0", "restart n3/web: running, pid ")
	m := regexp.MustCompile(`restart n3/web: running, pid (\d+)`).FindStringSubmatch(s)
	now = pid(nodes[2], "web")
	if m == nil || m[1] != fmt.Sprint(now) || now == old {
		t.Errorf("after the restart: n3's web.pid %d (was %d); the view says:\n%s", now, old, s)
	}
	if !regexp.MustCompile(fmt.Sprintf(`> web +running +%d `, now)).MatchString(topRow(s, "n3", "web")) {
		t.Errorf("the table does not show n3/web's new pid %d:\n%s", now, s)
	}

	// Logs and profiles are not offered: the status line says where to
	// look, and the table stays.
	tm.keys(":0", "l")
	tm.waitScreen(":0", "logs n3/web: not offered by the cluster view", "── n3")
	tm.keys(":0", "p")
	tm.waitScreen(":0", "profiles: not offered by the cluster view", "── n3")

	// n3 stops: it is shown down, with no daemon.
	nodes[2].stop(t)
	s = tm.waitFor(":0", "n3 down with no daemon", func(s string) bool {
		return strings.Contains(s, "── n3 (down)") && strings.Contains(s, "1 down") && topRow(s, "n3", "web") == ""
	})
	if topRow(s, "n1", "web") == "" || topRow(s, "n2", "web") == "" {
		t.Errorf("n1 and n2 are not shown any more:\n%s", s)
	}

	tm.keys(":0", "q")
	tm.waitScreen(":0", "top exited 0")
	// Not on a terminal: one line, as without --cluster.
	if _, err := clusterCtl(nodes[0].config, "top"); err == nil || err.Error() != "ringsup ctl: "+top.ErrNoTerminal.Error() {
		t.Errorf("ctl --cluster top on a pipe: %v", err)
	}
	for _, n := range nodes[:2] {
		n.stop(t)
	}
}
