package metrics

import (
	"testing"

	"github.com/ringrift/ringsup/supervisor"
)

// TestCustomEventsCounted: a daemon's own events are counted in
// ringsup_events_total under their type, and so are EVENTS_DROPPED.
func TestCustomEventsCounted(t *testing.T) {
	f := start(t, "[events]\ntypes = [\"SELFPLAY_COMPLETED\"]\nrate_limit = 2\n[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	refused := 0
	for range 10 {
		if err := f.sup.Emit(supervisor.Emission{Type: "SELFPLAY_COMPLETED", As: "sleeper"}); err != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("10 emits at once with rate_limit 2: none refused")
	}
	waitFor(t, f.exp,
		sample{name: "ringsup_events_total", labels: []string{"type", "SELFPLAY_COMPLETED"}, want: float64(10 - refused)},
		sample{name: "ringsup_events_total", labels: []string{"type", "EVENTS_DROPPED"}, want: 1},
	)
}
