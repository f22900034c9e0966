package supervisor

import (
	"encoding/json"
	"testing"
	"testing/synctest"
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
		if e["type"] != "DAEMON_FAILED" || e["daemon_type"] != "x" || e["error"] == "" || e["timestamp"] == nil {
			t.Errorf("hook stdin = %v, want DAEMON_FAILED of x with error and timestamp", e)
		}
		if envs[0]["RINGSUP_EVENT"] != "DAEMON_FAILED" || envs[0]["RINGSUP_DAEMON"] != "x" {
			t.Errorf("hook env = %v", envs[0])
		}
	})
}
