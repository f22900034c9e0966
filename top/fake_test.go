package top

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ringrift/ringsup/supervisor"
)

// fakeSource is a Source in memory. Its stream gives what is sent on
// events, and ends with end.
type fakeSource struct {
	mu       sync.Mutex
	snap     Snapshot
	acts     []Action
	actErr   error
	profiles []string
	switched []string
	logs     string
	logCtx   context.Context

	events chan Event
	end    chan error
}

func newFake(snap Snapshot) *fakeSource {
	return &fakeSource{snap: snap, events: make(chan Event, 100), end: make(chan error, 1),
		profiles: []string{"full", "minimal"}}
}

func (f *fakeSource) Snapshot(context.Context) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, nil
}

func (f *fakeSource) setSnapshot(s Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = s
}

func (f *fakeSource) Subscribe(ctx context.Context) (Stream, error) {
	return &fakeStream{ctx: ctx, f: f}, nil
}

type fakeStream struct {
	ctx context.Context
	f   *fakeSource
}

func (s *fakeStream) Next() (Event, error) {
	select {
	case e := <-s.f.events:
		return e, nil
	case err := <-s.f.end:
		return Event{}, err
	case <-s.ctx.Done():
		return Event{}, s.ctx.Err()
	}
}

func (s *fakeStream) Close() {}

func (f *fakeSource) Act(_ context.Context, a Action) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, a)
	return f.actErr
}

func (f *fakeSource) Profiles(context.Context, string) ([]string, error) {
	return f.profiles, nil
}

func (f *fakeSource) SetProfile(_ context.Context, _, profile string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.switched = append(f.switched, profile)
	return nil
}

func (f *fakeSource) Logs(ctx context.Context, _ Ref, _ int, w io.Writer) error {
	f.mu.Lock()
	f.logCtx = ctx
	f.mu.Unlock()
	if _, err := io.WriteString(w, f.logs); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// t0 is the fake clock's time.
var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// node is the snapshot of the model tests: web and worker run, batch
// failed, old is stopped.
func node() Snapshot {
	d := func(st supervisor.State, pid int, health string) Daemon {
		ds := supervisor.DaemonStatus{State: st, PID: pid, Health: health}
		if pid != 0 {
			ds.UptimeS = 65
		}
		return Daemon{DaemonStatus: ds}
	}
	batch := d(supervisor.Failed, 0, "none")
	batch.LastError = "exited with code 3"
	batch.RestartCount = 5
	return Snapshot{Nodes: []Node{{
		Name: "gpu-07", Up: true, Local: true, Profile: "full", Config: "/etc/ringsup.toml", PID: 4242,
		Daemons: map[string]Daemon{
			"web":    d(supervisor.Running, 4301, "healthy"),
			"worker": d(supervisor.Running, 4302, "none"),
			"batch":  batch,
			"old":    d(supervisor.Stopped, 0, "none"),
		},
	}}}
}

// newModel returns a model connected to a fake source that has snap, on
// an 80x24 screen.
func newModel(t *testing.T, snap Snapshot) (*Model, *fakeSource) {
	t.Helper()
	f := newFake(snap)
	m := New(t.Context(), Options{Source: f, Where: "/run/ringsup.sock",
		Now: func() time.Time { return t0 }})
	m.sampleFn = func(map[int]bool, []int) sampleMsg { return sampleMsg{} }
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(connectedMsg{snap: snap, stream: make(chan streamItem)})
	return m, f
}

// keyMsg is the key press of a key named as Bubble Tea names it ("enter",
// "esc", "up") or of a printable character.
func keyMsg(k string) tea.KeyPressMsg {
	named := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "up": tea.KeyUp,
		"down": tea.KeyDown, "backspace": tea.KeyBackspace, "end": tea.KeyEnd, "pgup": tea.KeyPgUp}
	if c, ok := named[k]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	if k == "ctrl+c" {
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// press sends keys to m and returns the command of the last one.
func press(m *Model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(keyMsg(k))
	}
	return cmd
}

// screen returns the text of the view, without colours.
func screen(m *Model) string {
	return ansi.Strip(m.View().Content)
}

// line returns the line of the screen that holds s, or "".
func line(m *Model, s string) string {
	for _, l := range strings.Split(screen(m), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// send feeds the message of cmd, and of the commands it returns in turn,
// to m, up to depth levels; batches are run in order. Commands that wait
// (ticks, the stream) must not be given to it.
func send(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			send(m, c)
		}
	default:
		_, next := m.Update(msg)
		if _, ok := msg.(snapshotMsg); !ok {
			send(m, next)
		}
	}
}

func intp(n int) *int { return &n }

// event returns a daemon event at t0 plus at seconds.
func event(typ supervisor.EventType, daemon string, at float64) Event {
	return Event{Event: supervisor.Event{Type: typ, Daemon: daemon, Timestamp: float64(t0.Unix()) + at}}
}
