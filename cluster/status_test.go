package cluster

import (
	"bytes"
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

// TestWriteJSON: State.WriteJSON prints what json.MarshalIndent would.
func TestWriteJSON(t *testing.T) {
	st := &State{Revision: 7, Nodes: map[string]NodeState{
		"n1": {Up: true, NodeInfo: NodeInfo{Version: "v1", PID: 3, Labels: map[string]string{"a": "b"}}, Daemons: map[string]json.RawMessage{
			"web": json.RawMessage(`{"state":"running","pid":4,"last_exit":{"code":1,"signal":""}}`),
			"db":  json.RawMessage(`{"state":"stopped","pid":0}`),
		}},
		"n2": {Member: &MemberInfo{Version: "v0"}, Daemons: map[string]json.RawMessage{}},
	}}
	var got bytes.Buffer
	if err := st.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	// MarshalIndent's output, with daemons kept when empty.
	type node struct {
		NodeState
		Daemons map[string]json.RawMessage `json:"daemons"`
	}
	want := struct {
		Revision int64           `json:"revision"`
		Nodes    map[string]node `json:"nodes"`
	}{st.Revision, map[string]node{
		"n1": {st.Nodes["n1"], st.Nodes["n1"].Daemons},
		"n2": {st.Nodes["n2"], map[string]json.RawMessage{}},
	}}
	b, _ := json.MarshalIndent(want, "", "  ")
	if got.String() != string(b)+"\n" {
		t.Errorf("WriteJSON:\n%s\nwant:\n%s", got.String(), b)
	}
}

func TestIndentCompact(t *testing.T) {
	for _, src := range []string{
		`{"a":[],"b":{},"c":[1,{"d":"x\"},:[ \\"}],"e":null,"f":-1.5e3,"g":true}`,
		`[]`, `"s"`, `{"k":{"l":{"m":[[],[{}]]}}}`,
	} {
		var got, want bytes.Buffer
		if !indentCompact(&got, []byte(src), "  ") {
			t.Errorf("indentCompact(%s) refused it", src)
			continue
		}
		json.Indent(&want, []byte(src), "  ", "  ")
		if got.String() != want.String() {
			t.Errorf("indentCompact(%s) =\n%s\nwant\n%s", src, got.String(), want.String())
		}
	}
	for _, src := range []string{`{"a": 1}`, `{"a":`, `{"a":1}}`} {
		var got bytes.Buffer
		if indentCompact(&got, []byte(src), "") || got.Len() != 0 {
			t.Errorf("indentCompact(%s) = %q, want refused", src, got.String())
		}
	}
}
