package control

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringrift/ringsup/supervisor"
)

// eventsNode declares custom types and has no rate limit, for tests that
// publish from this process (outside any daemon).
const eventsNode = `
[supervisor]
log_dir = "logs"

[events]
types = ["SELFPLAY_COMPLETED", "TRAINING_COMPLETED"]
rate_limit = 0

[daemons.steady]
command = ["sleep", "1000"]
`

// collector is a filtered events stream read by a goroutine.
type collector struct {
	mu     sync.Mutex
	events []map[string]any
	done   chan error
}

func (c *collector) list() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.events...)
}

// collect reads the stream of events that pass f until the test ends.
func collect(t *testing.T, n *testNode, f EventFilter) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{done: make(chan error, 1)}
	go func() {
		c.done <- n.client.EventsFiltered(ctx, f, func(raw json.RawMessage) error {
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func TestEmitOverTheSocketToFilteredSubscribers(t *testing.T) {
	n := startNode(t, eventsNode, Options{})
	n.waitState(t, "steady", supervisor.Running)
	selfplay := collect(t, n, EventFilter{Types: []string{"SELFPLAY_COMPLETED"}})
	all := collect(t, n, EventFilter{})
	sawTraining := func() bool {
		for _, e := range all.list() {
			if e["type"] == "TRAINING_COMPLETED" {
				return true
			}
		}
		return false
	}
	// The streams start when the supervisor has them, which the client
	// cannot see: publish both types until both streams have one.
	eventually(t, 30*time.Second, "the streams run", func() bool {
		for _, typ := range []string{"TRAINING_COMPLETED", "SELFPLAY_COMPLETED"} {
			if err := n.client.Emit(t.Context(), typ, json.RawMessage(`{"n": 1}`)); err != nil {
				t.Fatalf("Emit(%s) = %v", typ, err)
			}
		}
		return len(selfplay.list()) > 0 && sawTraining()
	})
	p := n.client.Publisher()
	defer p.Close()
	for range 3 {
		if err := p.Emit(t.Context(), "SELFPLAY_COMPLETED", json.RawMessage("{\n  \"games\": 100\n}")); err != nil {
			t.Fatalf("Publisher.Emit = %v", err)
		}
	}
	eventually(t, 30*time.Second, "three more", func() bool {
		c := 0
		for _, e := range selfplay.list() {
			if d, _ := e["data"].(map[string]any); d["games"] == float64(100) {
				c++
			}
		}
		return c == 3
	})
	for _, e := range selfplay.list() {
		if e["type"] != "SELFPLAY_COMPLETED" || e["daemon_type"] != nil {
			t.Errorf("filtered event = %v, want SELFPLAY_COMPLETED with no daemon_type (published from outside any daemon)", e)
		}
	}

	// Refusals are *RemoteErrors, and a publisher's connection survives them.
	for typ, data := range map[string]string{"NOPE": `{}`, "SELFPLAY_COMPLETED": `{"a": `} {
		if err := p.Emit(t.Context(), typ, json.RawMessage(data)); err == nil {
			t.Errorf("Publisher.Emit(%s, %s) = nil, want an error", typ, data)
		}
	}
	if err := p.Emit(t.Context(), "SELFPLAY_COMPLETED", nil); err != nil {
		t.Errorf("Publisher.Emit after refusals = %v", err)
	}
	if msg := remoteError(n.client.EventsFiltered(t.Context(), EventFilter{Daemons: []string{"nope"}}, nil)); msg != `unknown daemon "nope"` {
		t.Errorf("EventsFiltered(unknown daemon) = %q", msg)
	}
	if msg := remoteError(n.client.EmitAs(t.Context(), "nope", "SELFPLAY_COMPLETED", nil)); msg != `unknown daemon "nope"` {
		t.Errorf("EmitAs(unknown daemon) = %q", msg)
	}
}

// TestSlowSubscriberOfCustomEventsDropped: a client that subscribes to
// custom events and reads them slower than they come is dropped, and told
// so at the end of its stream, while publishing and another subscriber go
// on.
func TestSlowSubscriberOfCustomEventsDropped(t *testing.T) {
	n := startNode(t, eventsNode, Options{WriteTimeout: 5 * time.Second})
	c, err := net.Dial("unix", n.srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"v":1,"cmd":"events","types":["SELFPLAY_COMPLETED"]}` + "\n"))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, `"ok":true`) {
		t.Fatalf("events answer = %q, %v", line, err)
	}
	// The slow client: a line a millisecond, until the stream ends.
	last := make(chan string, 1)
	go func() {
		var prev string
		for {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			line, err := r.ReadString('\n')
			if err != nil {
				last <- prev
				return
			}
			prev = line
			time.Sleep(time.Millisecond)
		}
	}()
	other := collect(t, n, EventFilter{Types: []string{"TRAINING_COMPLETED"}})
	p := n.client.Publisher()
	defer p.Close()
	var end string
	eventually(t, 2*time.Minute, "the slow client's stream ends", func() bool {
		for range 200 {
			if err := p.Emit(t.Context(), "SELFPLAY_COMPLETED", nil); err != nil {
				t.Fatalf("Emit while a subscriber is slow = %v", err)
			}
		}
		select {
		case end = <-last:
			return true
		default:
			return false
		}
	})
	if !strings.Contains(end, `"ok":false`) || !strings.Contains(end, "fell behind") {
		t.Errorf("last line of the slow client's stream = %q, want the error that says it fell behind", end)
	}
	eventually(t, 30*time.Second, "the other subscriber gets its events", func() bool {
		if err := p.Emit(t.Context(), "TRAINING_COMPLETED", nil); err != nil {
			t.Fatal(err)
		}
		return len(other.list()) > 0
	})
}

// ExampleClient_Emit publishes an event from a daemon (the supervisor
// finds which from the caller's process group) and follows the events of
// one type from one daemon.
func ExampleClient_Emit() {
	ctx := context.Background()
	cl := &Client{Path: "/run/ringsup.sock"} // a daemon reads it from $RINGSUP_SOCKET
	if err := cl.Emit(ctx, "SELFPLAY_COMPLETED", json.RawMessage(`{"games": 100}`)); err != nil {
		// An undeclared type, data that is not an object, the rate limit.
		return
	}
	filter := EventFilter{Types: []string{"TRAINING_COMPLETED"}, Daemons: []string{"training"}}
	_ = cl.EventsFiltered(ctx, filter, func(e json.RawMessage) error {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Model string `json:"model"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e, &ev); err != nil {
			return err
		}
		// Evaluate ev.Data.Model ...
		return nil
	})
}

// TestAppendEventLineMatchesEncode: the lines of a daemon's own events,
// written without json.Marshal, are what encode writes; other events go
// through encode.
func TestAppendEventLineMatchesEncode(t *testing.T) {
	code := 3
	// Each other field set in turn: a field added to Event must go
	// through encode.
	var others []supervisor.Event
	ev := reflect.TypeOf(supervisor.Event{})
	for i := range ev.NumField() {
		switch ev.Field(i).Name {
		case "Type", "Timestamp", "Daemon", "Data":
			continue
		}
		e := supervisor.Event{Type: "X", Timestamp: 1, Daemon: "d", Data: json.RawMessage(`{"a":1}`)}
		fill(reflect.ValueOf(&e).Elem().Field(i), 2)
		others = append(others, e)
	}
	for _, e := range []supervisor.Event{
		{Type: "SELFPLAY_COMPLETED", Timestamp: 1796611392.6762292, Daemon: "selfplay", Data: json.RawMessage(`{"games":100,"html":"\u003cb\u003e"}`)},
		{Type: "X", Timestamp: 1e-9, Data: json.RawMessage(`{}`)},
		{Type: "Q\"<é>\u2028", Timestamp: 12, Daemon: "a\nb", Data: json.RawMessage(`{"a":[1,{"b":null}]}`)},
		{Type: "SELFPLAY_COMPLETED", Timestamp: 5, Daemon: "d", Data: json.RawMessage(`{}`), Dropped: 2},
		{Type: supervisor.DaemonExited, Timestamp: 5, Daemon: "d", ExitCode: &code},
	} {
		got := appendEventLine([]byte("x"), &e)
		want := append([]byte("x"), encode(Response{V: Version, OK: true, Event: &e})...)
		if string(got) != string(want) {
			t.Errorf("appendEventLine(%+v) =\n%s\nwant (encode)\n%s", e, got, want)
		}
		checkEventLine(t, got[1:], want[1:])
	}
	for _, e := range others {
		got := appendEventLine(nil, &e)
		if want := encode(Response{V: Version, OK: true, Event: &e}); string(got) != string(want) {
			t.Errorf("appendEventLine(%+v) =\n%s\nwant (encode)\n%s", e, got, want)
		}
	}
}

// checkEventLine checks that eventLine reads the event of want, a line of
// an events stream, back from got, the same line written by appendEventLine.
func checkEventLine(t *testing.T, got, want []byte) {
	t.Helper()
	event := strings.TrimSuffix(strings.TrimPrefix(string(want), `{"v":1,"ok":true,"event":`), "}\n")
	if rp, ok := eventLine(got); !ok || string(rp.Event) != event {
		t.Errorf("eventLine(%s) = %s, %v; want %s", got, rp.Event, ok, event)
	}
}

// TestEventFilterMatch: a filter applied to an event's JSON, as ctl
// --cluster events does, decides as the supervisor does.
func TestEventFilterMatch(t *testing.T) {
	started := `{"type":"DAEMON_STARTED","timestamp":1,"daemon_type":"w@1","instance":1,"pid":7,"node":"n1"}`
	custom := `{"type":"SELFPLAY_COMPLETED","timestamp":1,"daemon_type":"selfplay","data":{}}`
	dropped := `{"type":"EVENTS_DROPPED","timestamp":1,"dropped":3,"node":"n1"}`
	for _, tc := range []struct {
		f     EventFilter
		event string
		want  bool
	}{
		{EventFilter{}, dropped, true},
		{EventFilter{}, "not json", true},
		{EventFilter{Types: []string{"DAEMON_STARTED"}}, started, true},
		{EventFilter{Types: []string{"DAEMON_STARTED"}}, custom, false},
		{EventFilter{Types: []string{"EVENTS_DROPPED", "SELFPLAY_COMPLETED"}}, custom, true},
		{EventFilter{Daemons: []string{"w"}}, started, true}, // a daemon with instances
		{EventFilter{Daemons: []string{"w@1"}}, started, true},
		{EventFilter{Daemons: []string{"w@0"}}, started, false},
		{EventFilter{Daemons: []string{"selfplay"}}, dropped, false},
		{EventFilter{Types: []string{"DAEMON_STARTED"}, Daemons: []string{"selfplay"}}, started, false},
		{EventFilter{Types: []string{"DAEMON_STARTED"}}, "not json", false},
	} {
		if got := tc.f.Match(json.RawMessage(tc.event)); got != tc.want {
			t.Errorf("%+v.Match(%s) = %v, want %v", tc.f, tc.event, got, tc.want)
		}
	}
}
