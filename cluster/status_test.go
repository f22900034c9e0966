package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ringrift/ringsup/supervisor"
)

// TestStatusOfIsStable: a running daemon's published status does not
// change as its uptime grows, and changes when its process does.
func TestStatusOfIsStable(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ds := supervisor.DaemonStatus{State: supervisor.Running, PID: 42, UptimeS: 10, Health: "none", BackoffS: 0}
	first := statusOf(ds, now, status{})
	var m map[string]any
	if err := json.Unmarshal(first.value, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["uptime_s"]; ok {
		t.Errorf("published status has uptime_s: %s", first.value)
	}
	if m["since"] != 1_799_999_990.0 || m["state"] != "running" || m["pid"] != 42.0 {
		t.Errorf("published status = %s, want since 1799999990, running, pid 42", first.value)
	}
	// 5 s later, measured with 3 ms of error: the same bytes.
	ds.UptimeS = 15.003
	if again := statusOf(ds, now.Add(5*time.Second), first); string(again.value) != string(first.value) {
		t.Errorf("status 5s later = %s, want %s", again.value, first.value)
	}
	ds.PID, ds.UptimeS = 43, 0.5
	if next := statusOf(ds, now.Add(5*time.Second), first); string(next.value) == string(first.value) {
		t.Error("a new process gives the same status")
	}
}

func TestBucket(t *testing.T) {
	b := bucket{rate: 10, burst: 50, tokens: 50}
	now := time.Unix(0, 0)
	n := 0
	for range 200 {
		if b.take(now) {
			n++
		}
	}
	if n != 50 {
		t.Errorf("a burst of 200 let %d through, want 50", n)
	}
	now = now.Add(time.Second)
	n = 0
	for range 200 {
		if b.take(now) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("a second later %d went through, want 10", n)
	}
}
