package supervisor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
)

func TestProbeRunnerExecProbe(t *testing.T) {
	rt := newFakeRuntime()
	rt.probeCode["db"] = 2
	pr := newProbeRunner(rt, &fakeProber{}, hclog.NewNullLogger(), make(chan struct{}))
	d := &config.Daemon{Health: &config.Health{Exec: []string{"probe"}, Timeout: time.Second}}
	if err := pr.start("db", 7, d); err != nil {
		t.Fatal(err)
	}
	exits, _ := rt.Reap(0)
	if len(exits) != 1 || !pr.owns(exits[0].PID) {
		t.Fatalf("reaped %v, want the probe's exit, owned by the runner", exits)
	}
	r, counts, ok := pr.exited(exits[0])
	if !ok || !counts || r.name != "db" || r.incarnation != 7 || r.err == nil || !strings.Contains(r.err.Error(), "exit status 2") {
		t.Fatalf("exited = %+v, counts %v, ok %v; want db's incarnation 7 failed with exit status 2", r, counts, ok)
	}
	if _, _, ok := pr.exited(exits[0]); ok {
		t.Fatal("an exit taken twice")
	}
}

// TestProbeRunnerDropsAProbe: a dropped exec probe (its process went, or
// it timed out) is killed, and its outcome does not count.
func TestProbeRunnerDropsAProbe(t *testing.T) {
	rt := newFakeRuntime()
	rt.probeHang["db"] = true
	pr := newProbeRunner(rt, &fakeProber{}, hclog.NewNullLogger(), make(chan struct{}))
	d := &config.Daemon{Health: &config.Health{Exec: []string{"probe"}, Timeout: time.Second}}
	if err := pr.start("db", 7, d); err != nil {
		t.Fatal(err)
	}
	pr.drop(6) // another incarnation's: nothing to do
	if log := rt.takeLog(); len(log) != 0 {
		t.Fatalf("drop of another incarnation did %q", log)
	}
	pr.drop(7)
	if log := rt.takeLog(); !slices.Equal(log, []string{"SIGKILL probe:db"}) {
		t.Fatalf("drop did %q, want the probe killed", log)
	}
	exits, _ := rt.Reap(0)
	if _, counts, ok := pr.exited(exits[0]); !ok || counts {
		t.Fatalf("exited after drop: counts %v, ok %v; want a probe's exit that does not count", counts, ok)
	}
}

// TestProbeRunnerBatchesNetworkProbes: the network probes due in one pass
// come back in one batch.
func TestProbeRunnerBatchesNetworkProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prober := &fakeProber{err: map[string]error{"127.0.0.1:2": errors.New("refused")}}
		done := make(chan struct{})
		defer close(done)
		pr := newProbeRunner(newFakeRuntime(), prober, hclog.NewNullLogger(), done)
		for i, addr := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"} {
			d := &config.Daemon{Health: &config.Health{TCP: addr, Timeout: time.Second}}
			if err := pr.start(addr, uint64(i), d); err != nil {
				t.Fatal(err)
			}
		}
		pr.flush()
		rs := <-pr.Results()
		if len(rs) != 3 {
			t.Fatalf("first batch has %d results, want all 3", len(rs))
		}
		for _, r := range rs {
			if (r.err != nil) != (r.name == "127.0.0.1:2") {
				t.Errorf("result %+v, want an error for 127.0.0.1:2 only", r)
			}
		}
		pr.flush() // nothing due: no batch
		synctest.Wait()
		select {
		case rs := <-pr.Results():
			t.Fatalf("a flush with nothing due sent %v", rs)
		default:
		}
	})
}
