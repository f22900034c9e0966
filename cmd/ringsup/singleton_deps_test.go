package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/etcdtest"
)

// singletonDepConfig is a node's config with the trainer singleton, which
// appends "node fence pid unix-ns" to ticks every 20 ms, and depends on
// feeder, a local daemon every node runs.
func singletonDepConfig(endpoints []string, name, dir string) string {
	cfg := nodeConfig(endpoints, name, "", fmt.Sprintf(`
[daemons.feeder]
command = "exec sleep 100000"
backoff_min = "100ms"

[daemons.trainer]
command = '(while :; do echo "$RINGSUP_NODE $RINGSUP_FENCE_TOKEN $$ $(date +%%s%%N)" >> %s; sleep 0.02; done) & wait'
depends_on = ["feeder"]
placement = "singleton"
stop_timeout = "1s"
backoff_min = "100ms"
`, filepath.Join(dir, "ticks")))
	return strings.Replace(cfg, `ttl = "3s"`, fmt.Sprintf("ttl = %q", singletonTTL), 1)
}

// TestSingletonFollowsDependencies: a node campaigns for a singleton only
// while its local dependencies run. n1 holds the trainer, n2 is the next
// candidate; `ctl stop feeder` on n1 stops n1's copy and withdraws n1's
// candidacy (SINGLETON_LOST, reason dependency), and n2 takes over with
// no overlap of the two copies' ticks. `ctl start feeder` on n1 makes n1 a
// candidate again, behind n2 (the lowest create revision holds), so the
// singleton stays on n2.
func TestSingletonFollowsDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 etcd members and 2 nodes")
	}
	etcd := etcdtest.Start(t, 3)
	eps := etcd.Endpoints()
	cli := etcdClient(t, eps)
	shared := t.TempDir()
	ticks := filepath.Join(shared, "ticks")
	candidates := func() []string {
		var out []string
		for _, k := range keysUnder(t, cli, testPrefix+"/singleton/trainer/") {
			if !strings.HasSuffix(k, "/owner") {
				out = append(out, k)
			}
		}
		return out
	}

	// n1 first, so that it holds; then n2, whose candidacy comes second.
	n1 := startNode(t, "n1", singletonDepConfig(eps, "n1", shared))
	if first := waitCopy(t, ticks, 0); first.node != "n1" {
		t.Fatalf("the first copy ran on %s, want n1", first.node)
	}
	n2 := startNode(t, "n2", singletonDepConfig(eps, "n2", shared))
	eventually(t, 10*time.Second, "n2 is a candidate", func() bool { return len(candidates()) == 2 })

	// Stopping its dependency on the holder moves the singleton.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"ringsup", "ctl", "--config", n1.config, "stop", "feeder"}, &out, &errOut); err != nil {
		t.Fatalf("ctl stop feeder on n1: %v\n%s", err, errOut.String())
	}
	next := waitCopy(t, ticks, 1)
	if next.node != "n2" {
		t.Fatalf("after ctl stop feeder on n1 the copy runs on %s, want n2", next.node)
	}
	copies := readCopies(t, ticks)
	t.Logf("failover on ctl stop of the holder's dependency: %v", next.first.Sub(copies[0].last).Round(time.Millisecond))
	if got := candidates(); len(got) != 1 {
		t.Errorf("candidate keys after n1's withdrawal: %v, want n2's only", got)
	}
	eventually(t, 10*time.Second, "n1 logs SINGLETON_LOST (reason dependency)", func() bool {
		return regexp.MustCompile(`event=SINGLETON_LOST daemon=trainer.*reason=dependency`).MatchString(n1.output.String())
	})

	// With its dependency back, n1 campaigns again, behind n2.
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"ringsup", "ctl", "--config", n1.config, "start", "feeder"}, &out, &errOut); err != nil {
		t.Fatalf("ctl start feeder on n1: %v\n%s", err, errOut.String())
	}
	eventually(t, 10*time.Second, "n1 is a candidate again", func() bool { return len(candidates()) == 2 })
	// n1's placer tries the fence every 100 ms while it waits: 2 s is
	// some twenty tries to take the singleton back, were it to.
	back := time.Now()
	eventually(t, 10*time.Second, "2s with both nodes candidates", func() bool { return time.Since(back) > 2*time.Second })
	copies = readCopies(t, ticks)
	if last := copies[len(copies)-1]; len(copies) != 2 || last.node != "n2" || time.Since(last.last) > time.Second {
		t.Errorf("copies %+v: want n2's to run on, and no other", copies)
	}
	eventually(t, 10*time.Second, "ctl status on n1 shows trainer stopped, owner: n2", func() bool {
		out.Reset()
		errOut.Reset()
		err := run(context.Background(), []string{"ringsup", "ctl", "--config", n1.config, "status", "trainer"}, &out, &errOut)
		return err == nil && regexp.MustCompile(`trainer +stopped .*owner: n2`).MatchString(out.String())
	})
	checkNoOverlap(t, readCopies(t, ticks))
	n1.stop(t)
	n2.stop(t)
}
