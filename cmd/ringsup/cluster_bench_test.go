package main

import (
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

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/internal/etcdtest"
	"github.com/ringrift/ringsup/supervisor"
)

// BenchmarkClusterIdleCPU measures the CPU of an idle ringsup running 500
// daemons (B3) over a 30 s window, without [cluster] and with it (a
// 3-member etcd; TTL 10s: one renewal every 1.25 s), in % of a core.
func BenchmarkClusterIdleCPU(b *testing.B) {
	const daemons = 500
	const window = 30 * time.Second
	etcd := etcdtest.Start(b, 3)
	var src strings.Builder
	for i := range daemons {
		fmt.Fprintf(&src, "[daemons.d%03d]\ncommand = [\"/bin/sleep\", \"100000\"]\n", i)
	}
	eps, _ := json.Marshal(etcd.Endpoints())
	for _, mode := range []struct{ name, cluster string }{
		{"off", ""},
		{"on", fmt.Sprintf("[cluster]\nendpoints = %s\nnode = \"n1\"\nprefix = %q\n", eps, testPrefix)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte("[supervisor]\nwatch = false\n"+mode.cluster+src.String()), 0o644)
			r := startRingsup(b, dir, "--log-level", "warn")
			defer (&clusterNode{ringsupProc: r, name: mode.name}).stopB(b)
			client := &control.Client{Path: filepath.Join(dir, "ringsup.sock")}
			eventually(b, 2*time.Minute, "every daemon running", func() bool {
				st, err := client.Status(b.Context())
				running := 0
				for _, d := range st.Daemons {
					if d.State == supervisor.Running {
						running++
					}
				}
				return err == nil && running == daemons
			})
			time.Sleep(5 * time.Second) // start-up's publication ends
			for b.Loop() {
				t0 := cpuTicks(b, r.pid)
				time.Sleep(window)
				b.ReportMetric(float64(cpuTicks(b, r.pid)-t0)/100/window.Seconds()*100, "%core")
			}
		})
	}
}

// stopB stops a ringsup of a benchmark with SIGTERM.
func (n *clusterNode) stopB(b *testing.B) {
	syscallKill(n.pid)
	if x := waitExit(b, n.pid, 60*time.Second); x.Code != 0 {
		b.Errorf("ringsup exit = %v\n%s", x, n.output)
	}
}

// BenchmarkCtlClusterStatus10000 measures `ringsup ctl --cluster status
// --json` over 100 nodes of 100 daemons (10,000 status keys) in a 3-member
// etcd: in-process, the whole command without process start-up; process,
// the command as a new process until its output ends: the test binary,
// or the binary $RINGSUP_BENCH_BINARY names (scripts/build.sh's).
func BenchmarkCtlClusterStatus10000(b *testing.B) {
	const nodes, daemons = 100, 100
	quickRaceExit(b)
	etcd := etcdtest.Start(b, 3)
	cli := etcdClient(b, etcd.Endpoints())
	lease, err := cli.Grant(context.Background(), 600)
	if err != nil {
		b.Fatal(err)
	}
	status := `{"depends_on":[],"done":false,"health":"none","health_error":"","last_error":"","last_exit":{"code":1,"signal":""},"pid":%d,"restart_count":0,"since":1796610796.164,"state":"running"}`
	for n := range nodes {
		node := fmt.Sprintf("n%03d", n)
		ops := []clientv3.Op{clientv3.OpPut(testPrefix+"/nodes/"+node,
			fmt.Sprintf(`{"version":"devel","pid":%d,"profile":"full","labels":{"role":"selfplay"},"config_hash":"dbae377be182","started_at":"2026-12-07T02:33:11Z","addr":"host-%d"}`, n+1, n),
			clientv3.WithLease(lease.ID))}
		for d := range daemons {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s/status/%s/d%03d", testPrefix, node, d), fmt.Sprintf(status, 10000+d), clientv3.WithLease(lease.ID)))
		}
		if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	eps, _ := json.Marshal(etcd.Endpoints())
	cfg := filepath.Join(dir, "ringsup.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[cluster]\nendpoints = %s\nnode = \"x\"\nprefix = %q\n", eps, testPrefix)), 0o644)
	args := []string{"ctl", "--config", cfg, "--cluster", "status", "--json"}

	benchCommand(b, dir, args, nodes*daemons*100)
}

func syscallKill(pid int) { _ = syscall.Kill(pid, syscall.SIGTERM) }
