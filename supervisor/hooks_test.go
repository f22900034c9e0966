package supervisor

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/logfile"
)

func TestHookGetsTheEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.x]
command = "x"
auto_restart = false

[[hooks]]
events = ["DAEMON_FAILED"]
command = ["hook"]
`, "")
		defer h.stop()
		h.rt.exit(t, "x", 3)
		synctest.Wait()
		h.rt.mu.Lock()
		inputs, envs := h.rt.hookInput, h.rt.hookEnv
		h.rt.mu.Unlock()
		if len(inputs) != 1 {
			t.Fatalf("hook ran %d times, want once (for DAEMON_FAILED only)", len(inputs))
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(inputs[0]), &e); err != nil {
			t.Fatalf("hook stdin %q: %v", inputs[0], err)
		}
		if e["type"] != "DAEMON_FAILED" || e["daemon_type"] != "x" || e["error"] == nil || e["error"] == "" || e["timestamp"] == nil {
			t.Errorf("hook stdin = %v, want DAEMON_FAILED of x with error and timestamp", e)
		}
		if envs[0]["RINGSUP_EVENT"] != "DAEMON_FAILED" || envs[0]["RINGSUP_DAEMON"] != "x" ||
			envs[0][SocketEnv] != h.sup.cfg.Supervisor.Socket || envs[0][SocketEnv] == "" {
			t.Errorf("hook env = %v", envs[0])
		}
	})
}

// TestHookRunnerBoundsAndTimeouts: at most maxHooksRunning hooks run at
// once, the others wait their turn in order, and a hook past its timeout
// is killed, which lets the next one start.
func TestHookRunnerBoundsAndTimeouts(t *testing.T) {
	rt := newFakeRuntime()
	opened := 0
	hr := newHookRunner(rt, hclog.NewNullLogger(), func() *logfile.Writer {
		opened++
		w, err := logfile.Open(filepath.Join(t.TempDir(), "hooks.log"), logfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	})
	hang := config.Hook{Events: []string{"DAEMON_FAILED"}, Command: []string{"hook-hang"}, Timeout: time.Second}
	other := config.Hook{Events: []string{"DAEMON_STARTED"}, Command: []string{"hook"}, Timeout: time.Second}
	for range maxHooksRunning + 2 {
		hr.fire([]config.Hook{hang, other}, t.TempDir(), Event{Type: DaemonFailed, Daemon: "x"}, t0)
	}
	if len(hr.running) != maxHooksRunning || len(hr.queue) != 2 || opened != 1 {
		t.Fatalf("running %d, waiting %d, hooks.log opened %d times; want %d, 2, 1", len(hr.running), len(hr.queue), opened, maxHooksRunning)
	}
	if got := hr.deadline(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("deadline() = %v, want the first timeout %v", got, t0.Add(time.Second))
	}
	hr.killLate(t0.Add(time.Second))
	exits, _ := rt.Reap(0)
	if len(exits) != maxHooksRunning {
		t.Fatalf("killLate killed %d hooks, want %d", len(exits), maxHooksRunning)
	}
	for _, x := range exits {
		if !hr.exited(x) {
			t.Fatalf("exited(%v) = false for a hook", x)
		}
	}
	if len(hr.running) != 2 || len(hr.queue) != 0 {
		t.Fatalf("after the timeouts: running %d, waiting %d; want the 2 waiting started", len(hr.running), len(hr.queue))
	}
	hr.killAll()
	exits, _ = rt.Reap(0)
	for _, x := range exits {
		hr.exited(x)
	}
	if !hr.idle() {
		t.Fatalf("after killAll and the reap: running %d, waiting %d", len(hr.running), len(hr.queue))
	}
}
