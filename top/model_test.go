package top

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ringrift/ringsup/supervisor"
)

// feed gives the model events from the stream, with their JSON, and
// returns the command it answers with.
func feed(m *Model, events ...Event) tea.Cmd {
	for i := range events {
		events[i].Raw, _ = json.Marshal(events[i].Event)
	}
	_, cmd := m.Update(eventsMsg{events})
	return cmd
}

func TestTableShowsEveryColumn(t *testing.T) {
	m, _ := newModel(t, node())
	s := screen(m)
	for _, want := range []string{
		"node gpu-07", "profile full", "supervisor pid 4242", "config /etc/ringsup.toml",
		"2 running", "1 failed", "1 stopped",
		"NAME", "STATE", "PID", "UPTIME", "RST", "HEALTH", "CPU%", "RSS", "LAST EVENT",
		"r/R:restart", "q:quit",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the view lacks %q:\n%s", want, s)
		}
	}
	if l := line(m, "web"); !regexp.MustCompile(`web +running +4301 +1m05s +0 healthy`).MatchString(l) {
		t.Errorf("web's line = %q", l)
	}
	if l := line(m, "batch"); !regexp.MustCompile(`batch +failed +- +- +5 +none`).MatchString(l) {
		t.Errorf("batch's line = %q", l)
	}
}

func TestFitsTheScreen(t *testing.T) {
	snap := node()
	for i := range 40 {
		snap.Nodes[0].Daemons[fmt.Sprintf("a_rather_long_daemon_name_%02d", i)] = Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.ImportFailed}}
	}
	for _, keys := range [][]string{nil, {"?"}, {"e"}, {"l"}} {
		m, _ := newModel(t, snap)
		press(m, keys...)
		lines := strings.Split(m.View().Content, "\n")
		if len(lines) != 24 {
			t.Errorf("after %q: %d lines, want 24", keys, len(lines))
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > 80 {
				t.Errorf("after %q: a line is %d wide: %q", keys, w, ansi.Strip(l))
			}
		}
		m.closeLog()
	}
}

func TestMoveKeys(t *testing.T) {
	m, _ := newModel(t, node())
	selected := func() string { return m.cursor.Name }
	if selected() != "batch" || !strings.HasPrefix(line(m, "batch"), "> ") {
		t.Fatalf("first selected = %s, want batch (the first by name) marked", selected())
	}
	for _, step := range []struct{ key, want string }{
		{"j", "old"}, {"down", "web"}, {"j", "worker"}, {"j", "worker"},
		{"k", "web"}, {"up", "old"}, {"g", "batch"}, {"G", "worker"},
	} {
		press(m, step.key)
		if selected() != step.want || !strings.HasPrefix(line(m, step.want), "> ") {
			t.Errorf("after %s: selected %s, want %s", step.key, selected(), step.want)
		}
	}
}

// TestActionsAskFirst walks r, R, s and S: each asks in the status line,
// goes ahead on y, and shows the outcome when the daemon settles.
func TestActionsAskFirst(t *testing.T) {
	for _, tc := range []struct {
		key    string
		verb   Verb
		settle Event
		result string
	}{
		{"r", Restart, Event{Event: supervisor.Event{Type: supervisor.DaemonStarted, Daemon: "web", PID: 5000}}, "restart web: running, pid 5000"},
		{"R", ForceRestart, Event{Event: supervisor.Event{Type: supervisor.DaemonStarted, Daemon: "web", PID: 5001}}, "restart --force web: running, pid 5001"},
		{"s", Stop, Event{Event: supervisor.Event{Type: supervisor.DaemonStopped, Daemon: "web"}}, "stop web: stopped"},
		{"S", Start, Event{Event: supervisor.Event{Type: supervisor.DaemonFailed, Daemon: "web", Error: "exited with code 1"}}, "start web: failed: exited with code 1"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			m, f := newModel(t, node())
			press(m, "j", "j") // web
			press(m, tc.key)
			if want := tc.verb.String() + " web? y to confirm"; !strings.Contains(screen(m), want) {
				t.Fatalf("%s did not ask %q:\n%s", tc.key, want, screen(m))
			}
			// Any other key cancels.
			if cmd := press(m, "n"); cmd != nil || !strings.Contains(screen(m), "web: cancelled") {
				t.Fatalf("n did not cancel:\n%s", screen(m))
			}
			press(m, tc.key)
			send(m, press(m, "y"))
			if !slices.Equal(f.acts, []Action{{Verb: tc.verb, Daemon: Ref{Name: "web"}}}) {
				t.Fatalf("actions = %v, want one %v", f.acts, tc.verb)
			}
			if !strings.Contains(screen(m), tc.verb.String()+" web: requested") {
				t.Errorf("no request shown:\n%s", screen(m))
			}
			feed(m, tc.settle)
			if !strings.Contains(screen(m), tc.result) {
				t.Errorf("the result %q is not shown:\n%s", tc.result, screen(m))
			}
		})
	}
}

func TestActionRefused(t *testing.T) {
	m, f := newModel(t, node())
	f.actErr = errors.New(`daemon "batch" is failed: restart it with --force`)
	press(m, "r")
	send(m, press(m, "y"))
	if !strings.Contains(screen(m), `restart batch: daemon "batch" is failed`) {
		t.Errorf("the refusal is not shown:\n%s", screen(m))
	}
}

func TestLogFollowsAndSearches(t *testing.T) {
	for _, key := range []string{"l", "enter"} {
		t.Run(key, func(t *testing.T) {
			m, f := newModel(t, node())
			var b strings.Builder
			for i := 1; i <= 50; i++ {
				fmt.Fprintf(&b, "line %d\n", i)
			}
			f.logs = b.String() + "partial"
			press(m, "j", "j") // web
			cmd := press(m, key)
			if m.mode != logsMode || !strings.Contains(screen(m), "log of web  (following)") {
				t.Fatalf("%s did not open the log:\n%s", key, screen(m))
			}
			for len(m.logLines) < 50 {
				m.Update(cmd())
				cmd = m.nextLog()
			}
			if !strings.Contains(screen(m), "line 50") || strings.Contains(screen(m), "line 10\n") {
				t.Errorf("the pane does not show the end of the log:\n%s", screen(m))
			}
			press(m, "/", "l", "i", "n", "e", " ", "1", "2", "enter")
			if !strings.Contains(screen(m), "/line 12: line 12 of 5") || !strings.Contains(screen(m), "line 12") {
				t.Errorf("search did not find line 12:\n%s", screen(m))
			}
			if !strings.Contains(m.View().Content, styleMatch.Render("line 12")) {
				t.Error("the match is not highlighted")
			}
			press(m, "n")
			if !strings.Contains(screen(m), "/line 12: not found") {
				t.Errorf("n found an older line 12:\n%s", screen(m))
			}
			press(m, "end")
			if !strings.Contains(screen(m), "(following)") {
				t.Errorf("End does not follow:\n%s", screen(m))
			}
			press(m, "esc")
			if m.mode != tableMode || f.logCtx.Err() == nil {
				t.Errorf("Esc: mode %v, log request ended: %v", m.mode, f.logCtx.Err())
			}
		})
	}
}

func TestEventsPaneFilters(t *testing.T) {
	m, _ := newModel(t, node())
	e1 := event(supervisor.DaemonExited, "web", 1)
	e1.ExitCode = intp(1)
	e2 := event(supervisor.DaemonStarted, "worker", 2)
	e2.PID = 4400
	custom := Event{Event: supervisor.Event{Type: "SELFPLAY_COMPLETED", Daemon: "worker", Timestamp: float64(t0.Unix()) + 3}}
	feed(m, e1, e2)
	custom.Raw = json.RawMessage(`{"type":"SELFPLAY_COMPLETED","timestamp":1796612403,"daemon_type":"worker","data":{"games":64}}`)
	m.Update(eventsMsg{[]Event{custom}})
	press(m, "e")
	s := screen(m)
	for _, want := range []string{"events since the view opened (3)", "DAEMON_EXITED web exit_code=1", "DAEMON_STARTED worker pid=4400", `SELFPLAY_COMPLETED worker data={"games":64}`} {
		if !strings.Contains(s, want) {
			t.Errorf("the events pane lacks %q:\n%s", want, s)
		}
	}
	press(m, "/", "w", "o", "r", "k", "enter")
	s = screen(m)
	if !strings.Contains(s, "events since the view opened (2 of 3, filter /work)") || strings.Contains(s, "DAEMON_EXITED web") {
		t.Errorf("filter /work:\n%s", s)
	}
	press(m, "esc")
	if !strings.Contains(screen(m), "events since the view opened (3)") {
		t.Errorf("Esc did not clear the filter:\n%s", screen(m))
	}
	press(m, "esc")
	if m.mode != tableMode {
		t.Errorf("Esc did not go back to the table")
	}
}

func TestProfileSwitch(t *testing.T) {
	m, f := newModel(t, node())
	send(m, press(m, "p"))
	s := screen(m)
	if !strings.Contains(s, "> full  (active)") || !strings.Contains(s, "  minimal") {
		t.Fatalf("p does not list the profiles:\n%s", s)
	}
	send(m, press(m, "j", "enter"))
	if !slices.Equal(f.switched, []string{"minimal"}) || !strings.Contains(screen(m), "profile minimal: switched") {
		t.Errorf("switched %v:\n%s", f.switched, screen(m))
	}
	// The header follows the event.
	e := event(supervisor.ProfileChanged, "", 1)
	e.Profile = "minimal"
	feed(m, e)
	if !strings.Contains(screen(m), "profile minimal") {
		t.Errorf("the header does not show the new profile:\n%s", screen(m))
	}
}

func TestFilterByName(t *testing.T) {
	m, _ := newModel(t, node())
	press(m, "/", "w")
	if strings.Contains(screen(m), "batch") || !strings.Contains(screen(m), "worker") || !strings.Contains(screen(m), "web") {
		t.Errorf("/w shows:\n%s", screen(m))
	}
	press(m, "o", "enter")
	if line(m, "web") != "" || line(m, "worker") == "" || m.cursor.Name != "worker" {
		t.Errorf("/wo shows:\n%s", screen(m))
	}
	press(m, "esc")
	if line(m, "batch") == "" || line(m, "web") == "" {
		t.Errorf("Esc did not clear the filter:\n%s", screen(m))
	}
}

func TestHelpAndQuit(t *testing.T) {
	m, _ := newModel(t, node())
	press(m, "?")
	if !strings.Contains(screen(m), "restart --force: also resets") {
		t.Fatalf("? shows no help:\n%s", screen(m))
	}
	press(m, "x")
	if m.mode != tableMode {
		t.Fatal("a key did not close the help")
	}
	for _, k := range []string{"q", "ctrl+c"} {
		m, _ := newModel(t, node())
		if cmd := press(m, k); cmd == nil || cmd() != tea.Quit() {
			t.Errorf("%s does not quit", k)
		}
		if m.Gone() != nil {
			t.Errorf("%s: Gone() = %v, want nil", k, m.Gone())
		}
	}
}

// TestDaemonCrashes: a daemon exits while the view is open, is restarted
// with backoff, and fails for good.
func TestDaemonCrashes(t *testing.T) {
	m, _ := newModel(t, node())
	exit := event(supervisor.DaemonExited, "web", 1)
	exit.ExitCode = intp(2)
	restarting := event(supervisor.DaemonRestarting, "web", 1)
	restarting.RestartCount, restarting.DelayS = intp(1), new(2.5)
	feed(m, exit, restarting)
	if l := line(m, "web"); !regexp.MustCompile(`web +restarting +- +- +1 +unknown .* restart #1`).MatchString(l) {
		t.Errorf("web after its exit: %q", l)
	}
	press(m, "j", "j")
	if d := line(m, "last exit"); !strings.Contains(d, "last exit code 2") || !strings.Contains(d, "backoff 2.5s") {
		t.Errorf("detail line: %q", d)
	}
	failed := event(supervisor.DaemonFailed, "web", 4)
	failed.Error = "exited with code 2; no restarts left"
	feed(m, failed)
	if !strings.Contains(line(m, "web "), "failed") || !strings.Contains(screen(m), "last error: exited with code 2; no restarts left") {
		t.Errorf("web failed:\n%s", screen(m))
	}
	if !strings.Contains(screen(m), "2 failed") {
		t.Errorf("the counts do not follow:\n%s", screen(m))
	}
}

// TestReloadAddsDaemon: a reload adds a daemon; the view takes a snapshot
// and shows it, and its first events too.
func TestReloadAddsDaemon(t *testing.T) {
	m, f := newModel(t, node())
	snap := node()
	snap.Nodes[0].Daemons["metrics"] = Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Starting, Health: "none"}}
	f.setSnapshot(snap)
	reloaded := event(supervisor.ConfigReloaded, "", 1)
	reloaded.ReloadSummary = &supervisor.ReloadSummary{Added: []string{"metrics"}}
	cmd := feed(m, reloaded)
	// The batch is the wait for more events, then the refresh.
	batch, ok := cmd().(tea.BatchMsg)
	if !ok || len(batch) != 2 {
		t.Fatalf("CONFIG_RELOADED gave %T, want a batch of two commands", cmd())
	}
	m.Update(batch[1]())
	if l := line(m, "metrics"); !strings.Contains(l, "starting") {
		t.Errorf("the added daemon is not shown starting:\n%s", screen(m))
	}
	started := event(supervisor.DaemonStarted, "metrics", 2)
	started.PID = 4500
	feed(m, started)
	if l := line(m, "metrics"); !regexp.MustCompile(`metrics +running +4500`).MatchString(l) {
		t.Errorf("metrics after DAEMON_STARTED: %q", l)
	}
	// A daemon the view meets first in an event is shown too.
	other := event(supervisor.DaemonStarted, "late", 3)
	other.PID = 4600
	feed(m, other)
	if l := line(m, "late"); !regexp.MustCompile(`late +running +4600`).MatchString(l) {
		t.Errorf("late: %q\n%s", l, screen(m))
	}
}

func TestSupervisorGoesAway(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{io.EOF, "the supervisor shut down"},
		{errors.New("cannot read the answer: connection reset by peer"), "lost the supervisor: cannot read the answer: connection reset by peer"},
	} {
		m, _ := newModel(t, node())
		_, cmd := m.Update(streamEndMsg{tc.err})
		if cmd == nil || cmd() != tea.Quit() {
			t.Errorf("%v: the view does not quit", tc.err)
		}
		if m.Gone() == nil || m.Gone().Error() != tc.want || !strings.Contains(screen(m), tc.want) {
			t.Errorf("%v: Gone() = %v, view:\n%s", tc.err, m.Gone(), screen(m))
		}
	}
	m, _ := newModel(t, node())
	m.Update(streamEndMsg{io.EOF})
	if !errors.Is(m.Gone(), ErrShutdown) {
		t.Errorf("Gone() = %v, want ErrShutdown", m.Gone())
	}
}

func TestCPUAndRSS(t *testing.T) {
	m, _ := newModel(t, node())
	if l := line(m, "web"); !regexp.MustCompile(`healthy +- +-`).MatchString(l) {
		t.Errorf("before a sample: %q", l)
	}
	m.Update(sampleMsg{At: t0, Groups: map[int]usage{4301: {Ticks: 1000, RSS: 3 << 20}}, Procs: map[int]usage{4242: {Ticks: 10, RSS: 15 << 20}}})
	m.Update(sampleMsg{At: t0.Add(2 * sampleEvery), Groups: map[int]usage{4301: {Ticks: 1050, RSS: 3 << 20}}, Procs: map[int]usage{4242: {Ticks: 12, RSS: 15 << 20}}})
	// 50 ticks in 2 s is 25% of a core.
	if l := line(m, "web"); !regexp.MustCompile(`healthy +25.0 +3.0M`).MatchString(l) {
		t.Errorf("web: %q", l)
	}
	if l := line(m, "worker"); !regexp.MustCompile(` +- +-`).MatchString(l) {
		t.Errorf("worker, not in the sample: %q", l)
	}
	if !strings.Contains(screen(m), "supervisor pid 4242 cpu 1.0% rss 15.0M") {
		t.Errorf("header:\n%s", screen(m))
	}
}

// TestCluster: several nodes are grouped under their titles, a singleton
// held elsewhere is marked with its owner, and a down node says so.
func TestCluster(t *testing.T) {
	trainer := Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Stopped, Health: "none"}, Owner: "n2"}
	held := Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Running, PID: 77, Health: "none"}}
	snap := Snapshot{Nodes: []Node{
		{Name: "n1", Up: true, Daemons: map[string]Daemon{"trainer": trainer}},
		{Name: "n2", Up: true, Daemons: map[string]Daemon{"trainer": held}},
		{Name: "n3", Up: false, Daemons: map[string]Daemon{"web": {}}},
	}}
	m, f := newModel(t, snap)
	s := screen(m)
	for _, want := range []string{"cluster: 3 nodes", "── n1", "── n2", "── n3 (down)"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	if l := line(m, "stopped@n2"); !strings.Contains(l, "trainer") {
		t.Errorf("no owner mark:\n%s", s)
	}
	press(m, "j", "S")
	send(m, press(m, "y"))
	if want := (Action{Verb: Start, Daemon: Ref{Node: "n2", Name: "trainer"}}); len(f.acts) != 1 || f.acts[0] != want {
		t.Errorf("actions = %v, want %v", f.acts, want)
	}
	e := event(supervisor.DaemonStopped, "trainer", 1)
	e.Node = "n2"
	feed(m, e)
	if !strings.Contains(screen(m), "start n2/trainer: stopped") {
		t.Errorf("outcome not shown:\n%s", screen(m))
	}
}

// TestStaleSnapshot: a restart's snapshot, taken while the daemon was
// stopping, comes after the events of its stop and start; it used to
// leave the row "stopping" with the old pid.
func TestStaleSnapshot(t *testing.T) {
	m, f := newModel(t, node())
	press(m, "j", "j", "r") // web
	_, refresh := m.Update(press(m, "y")())
	stale := node()
	d := stale.Nodes[0].Daemons["web"]
	d.State = supervisor.Stopping
	stale.Nodes[0].Daemons["web"] = d
	f.setSnapshot(stale)
	msg := refresh() // the snapshot is taken now ...
	stopped := event(supervisor.DaemonStopped, "web", 1)
	started := event(supervisor.DaemonStarted, "web", 1)
	started.PID = 5000
	feed(m, stopped, started) // ... and the events come first
	m.Update(msg)
	if l := line(m, "web"); !regexp.MustCompile(`web +running +5000`).MatchString(l) {
		t.Errorf("web = %q, want running with pid 5000", l)
	}
	if !strings.Contains(screen(m), "restart web: running, pid 5000") {
		t.Errorf("outcome:\n%s", screen(m))
	}
}

// TestOneshotDone: a oneshot that completed reads "done", as in ctl
// status; a stop with code 0 makes the view ask the status again.
func TestOneshotDone(t *testing.T) {
	m, f := newModel(t, node())
	snap := node()
	d := snap.Nodes[0].Daemons["old"]
	d.Done = true
	snap.Nodes[0].Daemons["old"] = d
	f.setSnapshot(snap)
	started := event(supervisor.DaemonStarted, "old", 1)
	started.PID = 4700
	feed(m, started)
	stopped := event(supervisor.DaemonStopped, "old", 2)
	stopped.ExitCode = intp(0)
	batch, ok := feed(m, stopped)().(tea.BatchMsg)
	if !ok || len(batch) != 2 {
		t.Fatal("a stop with code 0 asks no status")
	}
	m.Update(batch[1]())
	if l := line(m, "old"); !regexp.MustCompile(`old +done +- `).MatchString(l) {
		t.Errorf("old = %q, want done", l)
	}
	if !strings.Contains(screen(m), "1 done · 2 running · 1 failed") {
		t.Errorf("the counts do not say done:\n%s", screen(m))
	}
}

// TestRefreshRefusedAtShutdown: a shutdown stops the daemons (a stop with
// code 0 makes the view refresh) and refuses requests before it ends the
// stream; the refused refresh used to end the view as "lost".
func TestRefreshRefusedAtShutdown(t *testing.T) {
	m, _ := newModel(t, node())
	m.refreshing++
	m.Update(snapshotMsg{err: errors.New("supervisor is not running")})
	if m.Gone() != nil || !strings.Contains(screen(m), "cannot refresh the status: supervisor is not running") {
		t.Errorf("Gone() = %v:\n%s", m.Gone(), screen(m))
	}
	m.Update(streamEndMsg{io.EOF})
	if !errors.Is(m.Gone(), ErrShutdown) {
		t.Errorf("Gone() = %v, want ErrShutdown", m.Gone())
	}
}

func TestEventsPaneScrolls(t *testing.T) {
	m, _ := newModel(t, node())
	var evs []Event
	for i := range 50 {
		e := event(supervisor.DaemonStarted, "web", float64(i))
		e.PID = 6000 + i
		evs = append(evs, e)
	}
	feed(m, evs...)
	press(m, "e")
	if !strings.Contains(screen(m), "pid=6049") || strings.Contains(screen(m), "pid=6000") {
		t.Fatalf("the pane does not show the newest events:\n%s", screen(m))
	}
	for _, step := range []struct {
		key        string
		back       int
		has, hasnt string
	}{
		{"k", 1, "pid=6048", "pid=6049"},
		{"pgup", 1 + m.paneHeight(), "pid=6029", "pid=6030"},
		{"g", 50 - m.paneHeight(), "pid=6000", "pid=6019"}, // the first page
		{"j", 49 - m.paneHeight(), "pid=6001", "pid=6000"},
		{"G", 0, "pid=6049", "pid=6000"},
	} {
		press(m, step.key)
		s := screen(m)
		if m.evOff != step.back || !strings.Contains(s, step.has) || strings.Contains(s, step.hasnt) {
			t.Errorf("after %s: %d back, want %d; has %s, not %s:\n%s", step.key, m.evOff, step.back, step.has, step.hasnt, s)
		}
	}
}

// TestOneNodeCluster: the events of a cluster source name their node;
// with one node, the rows do not, and the events still reach them.
func TestOneNodeCluster(t *testing.T) {
	m, _ := newModel(t, node())
	e := event(supervisor.DaemonStarted, "web", 1)
	e.Node, e.PID = "gpu-07", 7777
	feed(m, e)
	if l := line(m, "web"); !regexp.MustCompile(`web +running +7777`).MatchString(l) || len(m.rows) != 4 {
		t.Errorf("web = %q, %d rows", l, len(m.rows))
	}
}

// TestSamplesWhatIsShown: the next sample reads the groups of the daemons
// on screen and the supervisor, and follows the scrolling.
func TestSamplesWhatIsShown(t *testing.T) {
	snap := node()
	for i := range 100 {
		snap.Nodes[0].Daemons[fmt.Sprintf("d%03d", i)] = Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Running, PID: 10000 + i}}
	}
	m, _ := newModel(t, snap)
	w := m.want.Load()
	if len(w.groups) != m.tableHeight()-1 || !w.groups[10000] || w.groups[10099] || !slices.Equal(w.pids, []int{4242}) {
		t.Errorf("wanted %d groups (10000: %v, 10099: %v), pids %v; want the %d on screen with a pid (batch has none) and 4242",
			len(w.groups), w.groups[10000], w.groups[10099], w.pids, m.tableHeight()-1)
	}
	press(m, "G")
	if w := m.want.Load(); !w.groups[4302] || w.groups[10000] {
		t.Errorf("after G: worker (4302) wanted %v, d000 wanted %v", w.groups[4302], w.groups[10000])
	}
}

// TestNodeGoesDown: a node's registration going away marks it down at
// once and asks for the status; the node keeps its title with no daemon
// (a down node publishes none).
func TestNodeGoesDown(t *testing.T) {
	web := Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Running, PID: 70, Health: "none"}}
	snap := Snapshot{Nodes: []Node{
		{Name: "n1", Up: true, Daemons: map[string]Daemon{"web": web}},
		{Name: "n2", Up: true, Daemons: map[string]Daemon{"web": web}},
	}}
	m, f := newModel(t, snap)
	down := Snapshot{Nodes: []Node{snap.Nodes[0], {Name: "n2", Daemons: map[string]Daemon{}}}}
	f.setSnapshot(down)
	batch, ok := feed(m, Event{Node: "n2", Event: supervisor.Event{Type: NodeDown, Timestamp: float64(t0.Unix())}})().(tea.BatchMsg)
	if !ok || len(batch) != 2 {
		t.Fatal("a node going down asks no status")
	}
	if s := screen(m); !strings.Contains(s, "── n2 (down)") || !strings.Contains(s, "1 down") {
		t.Errorf("n2 not shown down at once:\n%s", s)
	}
	m.Update(batch[1]())
	s := screen(m)
	if !strings.Contains(s, "── n2 (down)") || len(m.rows) != 1 {
		t.Errorf("after the status, n2 is not down with no daemon:\n%s", s)
	}
	e := Event{Node: "n2", Event: supervisor.Event{Type: NodeUp, Timestamp: float64(t0.Unix())}}
	feed(m, e)
	if s := screen(m); strings.Contains(s, "(down)") {
		t.Errorf("n2 came back, still down:\n%s", s)
	}
}

// TestNotOffered: what the source does not offer (a cluster's logs and
// profiles) is said in the status line, and the table stays.
func TestNotOffered(t *testing.T) {
	m, _ := newModel(t, node())
	m.opt.Source = Cluster{}
	press(m, "j", "j") // web
	send(m, press(m, "l"))
	s := screen(m)
	if m.mode != tableMode || !strings.Contains(s, "logs web: not offered by the cluster view: run ringsup ctl logs web on node") {
		t.Errorf("l:\n%s", s)
	}
	send(m, press(m, "p"))
	if s := screen(m); m.mode != tableMode || !strings.Contains(s, "profiles: not offered by the cluster view: run ringsup ctl profile") {
		t.Errorf("p:\n%s", s)
	}
}

// TestClusterStatusOlderThanEvents: a node publishes its status less
// often than its events, so a snapshot can be older than events already
// shown; the row keeps what the newer events made of it, and an event
// older than the snapshot changes nothing but still reports an outcome.
func TestClusterStatusOlderThanEvents(t *testing.T) {
	running := func(pid int, rev int64) Daemon {
		return Daemon{DaemonStatus: supervisor.DaemonStatus{State: supervisor.Running, PID: pid, Health: "none"}, Rev: rev}
	}
	snap := func(web Daemon) Snapshot {
		return Snapshot{Nodes: []Node{
			{Name: "n1", Up: true, Daemons: map[string]Daemon{"web": running(10, 5)}},
			{Name: "n2", Up: true, Daemons: map[string]Daemon{"web": web}},
		}}
	}
	m, f := newModel(t, snap(running(20, 5)))
	started := Event{Node: "n2", Rev: 9, Event: supervisor.Event{Type: supervisor.DaemonStarted, Daemon: "web", PID: 21, Timestamp: float64(t0.Unix())}}
	feed(m, started)
	f.setSnapshot(snap(running(20, 7))) // written before the start
	send(m, m.refresh())
	if l := topLine(m, "n2"); !regexp.MustCompile(`web +running +21 `).MatchString(l) {
		t.Errorf("n2/web = %q, want pid 21 from the newer event", l)
	}
	f.setSnapshot(snap(running(22, 12))) // newer than every event
	send(m, m.refresh())
	if l := topLine(m, "n2"); !regexp.MustCompile(`web +running +22 `).MatchString(l) {
		t.Errorf("n2/web = %q, want pid 22 from the newer status", l)
	}
	m.pending[Ref{Node: "n2", Name: "web"}] = Restart
	started.Rev, started.PID = 11, 22
	feed(m, Event{Node: "n2", Rev: 10, Event: supervisor.Event{Type: supervisor.DaemonExited, Daemon: "web", Timestamp: float64(t0.Unix())}}, started)
	if l := topLine(m, "n2"); !regexp.MustCompile(`web +running +22 `).MatchString(l) || !strings.Contains(screen(m), "restart n2/web: running, pid 22") {
		t.Errorf("after older events, n2/web = %q:\n%s", l, screen(m))
	}
}

// topLine returns the first daemon line under node's title.
func topLine(m *Model, node string) string {
	lines := strings.Split(screen(m), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "── "+node) && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}
