package supervisor

import (
	"runtime/debug"
	"testing"
	"testing/synctest"
)

// gcPercent reads the collector's GOGC setting.
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestNoGCAtShutdown: with Options.NoGCAtShutdown the collector is off
// from the start of the shutdown (as the runtime is told to stop every
// process), and Run gives the process its setting back when it returns;
// without it, the setting is left alone.
func TestNoGCAtShutdown(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	for _, off := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			during := 0
			h := startOpts(t, chain, "", func(o *Options) { o.NoGCAtShutdown = off },
				func(f *fakeRuntime) { f.onStopAll = func() { during = gcPercent() } })
			h.stop()
			want := 150
			if off {
				want = -1
			}
			if during != want {
				t.Errorf("NoGCAtShutdown %v: GOGC during the shutdown = %d, want %d", off, during, want)
			}
			if after := gcPercent(); after != 150 {
				t.Errorf("NoGCAtShutdown %v: GOGC after Run = %d, want 150 back", off, after)
			}
		})
	}
}
