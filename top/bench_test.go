package top

import (
	"fmt"
	"testing"

	"github.com/ringrift/ringsup/supervisor"
)

// BenchmarkEvent is what one event costs the view of 1000 daemons: its
// update and the screen drawn after it.
func BenchmarkEvent(b *testing.B) {
	snap := node()
	for i := range 1000 {
		snap.Nodes[0].Daemons[fmt.Sprintf("d%04d", i)] = Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Running, PID: 10000 + i, Health: "none"}}
	}
	m, _ := newModel(&testing.T{}, snap)
	e := event(supervisor.DaemonStarted, "web", 1)
	e.PID = 4301
	for i := range 2000 {
		feed(m, e) // fill the events pane
		_ = i
	}
	for b.Loop() {
		feed(m, e)
		m.View()
	}
}
