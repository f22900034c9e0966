package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

// Limits of what the view keeps.
const (
	maxEvents   = 1000 // events in the events pane
	maxLogLines = 2000 // lines in the log pane
	logBacklog  = 200  // lines of log shown when a log opens
	streamBatch = 256  // events applied in one update at most
	sampleEvery = time.Second
)

// Options configure a Model.
type Options struct {
	// Source is where the data comes from. Required.
	Source Source
	// Where names the source in messages, such as the socket path.
	Where string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// mode is what the screen shows.
type mode int

const (
	tableMode mode = iota
	logsMode
	eventsMode
	helpMode
	profilesMode
)

// prompt is a line of text being typed: a filter or a search.
type prompt int

const (
	noPrompt prompt = iota
	filterPrompt
	logSearchPrompt
	eventFilterPrompt
)

// row is one daemon as the view shows it.
type row struct {
	ref   Ref
	d     Daemon
	since time.Time // when its process started, zero when none
	last  *Event    // its last event
	rev   int64     // the Rev of the status or event it shows (see Daemon.Rev)
}

// Model is the Bubble Tea model of the view. Its methods follow Bubble
// Tea's rules: Update and View run on the program's goroutine; the
// commands it returns do the I/O.
type Model struct {
	opt Options
	ctx context.Context

	width, height int

	nodes   []Node // header facts, daemons left out
	rows    map[Ref]*row
	order   []Ref       // rows sorted by node, then name
	sorted  []*row      // the rows in that order
	lines   []tableLine // the table's lines; nil when they must be made again
	cursor  Ref         // the selected daemon
	offset  int         // first line of the table shown
	filter  string
	mode    mode
	prompt  prompt
	input   string // the text of the prompt
	confirm *Action
	pending map[Ref]Verb // actions asked for, whose outcome is awaited
	status  string       // the status line
	isError bool         // the status line reports a failure

	stream <-chan streamItem
	events []shownEvent // the last maxEvents events
	evOff  int          // events scrolled back from the newest
	evFind string

	logRef    Ref
	logSeq    int
	logCtx    context.Context
	logCancel context.CancelFunc
	logCh     <-chan logItem
	logLines  []string
	logOff    int // lines scrolled back from the end
	logFind   string
	logAt     int // the line of the last match
	logEnded  string

	profiles []string
	profCur  int

	stateCells map[stateKey]string // see stateCell
	sampler    *procSampler
	want       atomic.Pointer[wanted]                          // read by the sampling command
	sampleFn   func(groups map[int]bool, pids []int) sampleMsg // sampler.sample, but in tests
	prev       sampleMsg
	cpu        map[int]float64 // by pid of a group leader or supervisor
	rss        map[int]int64
	sampled    bool

	refreshing int     // snapshots asked for and not in yet
	replay     []Event // the daemon events since the first of them was asked for

	connected bool
	gone      error // why the view ended, when the supervisor went away
	done      bool
}

// New returns the model of a view over opt.Source. ctx bounds every
// request the view makes.
func New(ctx context.Context, opt Options) *Model {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	ps := new(procSampler)
	return &Model{opt: opt, ctx: ctx, sampler: ps, stateCells: map[stateKey]string{}, sampleFn: ps.sample, rows: map[Ref]*row{}, pending: map[Ref]Verb{},
		cpu: map[int]float64{}, rss: map[int]int64{}, width: 80, height: 24}
}

// Gone returns why the view ended on its own: ErrShutdown, or the error
// that lost the supervisor. It is nil while the view runs and when the
// user quit.
func (m *Model) Gone() error { return m.gone }

// Init connects to the source and starts sampling.
func (m *Model) Init() tea.Cmd {
	m.setWanted()
	return tea.Batch(m.connect(), m.sampleLater())
}

// Messages of the view's commands.
type (
	// connectedMsg is a subscription and the snapshot taken after it.
	connectedMsg struct {
		snap   Snapshot
		stream <-chan streamItem
	}
	// snapshotMsg is a snapshot taken to refresh the view, or why there
	// is none.
	snapshotMsg struct {
		snap Snapshot
		err  error
	}
	// lostMsg says the source could not be reached.
	lostMsg struct{ err error }
	// eventsMsg is the events that came since the last one.
	eventsMsg struct{ events []Event }
	// streamEndMsg is the end of the event stream: io.EOF when the
	// supervisor shut down.
	streamEndMsg struct{ err error }
	// actedMsg is the answer to an action.
	actedMsg struct {
		a   Action
		err error
	}
	profilesMsg struct {
		names []string
		err   error
	}
	profileSetMsg struct {
		name string
		err  error
	}
	logMsg struct {
		seq   int
		lines []string
		end   error // set on the last message of a log
	}
)

// streamItem is an event, or the error that ended the stream.
type streamItem struct {
	e   Event
	err error
}

// connect subscribes to the events and then takes a snapshot, so that no
// change falls between the two.
func (m *Model) connect() tea.Cmd {
	ctx, src := m.ctx, m.opt.Source
	return func() tea.Msg {
		s, err := src.Subscribe(ctx)
		if err != nil {
			return lostMsg{err}
		}
		snap, err := src.Snapshot(ctx)
		if err != nil {
			s.Close()
			return lostMsg{err}
		}
		ch := make(chan streamItem, streamBatch)
		go pump(ctx, s, ch)
		return connectedMsg{snap: snap, stream: ch}
	}
}

// pump copies the stream to ch until it ends.
func pump(ctx context.Context, s Stream, ch chan<- streamItem) {
	defer s.Close()
	for {
		e, err := s.Next()
		select {
		case ch <- streamItem{e, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// next waits for the next events and takes what else is there, up to
// streamBatch, so that a burst is one update.
func next(ch <-chan streamItem) tea.Cmd {
	return func() tea.Msg {
		var batch []Event
		it := <-ch
		for {
			if it.err != nil {
				if len(batch) > 0 {
					return eventsAndEnd{eventsMsg{batch}, streamEndMsg{it.err}}
				}
				return streamEndMsg{it.err}
			}
			batch = append(batch, it.e)
			if len(batch) == streamBatch {
				return eventsMsg{batch}
			}
			select {
			case it = <-ch:
			default:
				return eventsMsg{batch}
			}
		}
	}
}

// eventsAndEnd is the last events of a stream and its end.
type eventsAndEnd struct {
	eventsMsg
	end streamEndMsg
}

// refresh takes a new snapshot.
func (m *Model) refresh() tea.Cmd {
	m.refreshing++
	ctx, src := m.ctx, m.opt.Source
	return func() tea.Msg {
		snap, err := src.Snapshot(ctx)
		return snapshotMsg{snap, err}
	}
}

// sampleLater samples the processes of the local daemons and supervisors
// in a second.
func (m *Model) sampleLater() tea.Cmd {
	sample, want := m.sampleFn, &m.want
	return tea.Tick(sampleEvery, func(time.Time) tea.Msg {
		w := want.Load()
		return sample(w.groups, w.pids)
	})
}

// wanted is what the next sample reads: the process groups of the daemons
// on screen (their leaders' pids) and the supervisors' pids. Reading only
// what is shown keeps the pass over /proc small with thousands of daemons.
type wanted struct {
	groups map[int]bool
	pids   []int
}

// setWanted records what the next sample reads, after each update.
func (m *Model) setWanted() {
	w := &wanted{groups: map[int]bool{}}
	for _, n := range m.nodes {
		if n.Local && n.PID > 0 {
			w.pids = append(w.pids, n.PID)
		}
	}
	lines := m.tableLines()
	for _, l := range lines[min(m.offset, len(lines)):min(m.offset+m.tableHeight(), len(lines))] {
		if r := m.rows[l.ref]; r != nil && r.d.PID != 0 && m.isLocal(r.ref) {
			w.groups[r.d.PID] = true
		}
	}
	if old := m.want.Load(); old != nil && maps.Equal(old.groups, w.groups) && slices.Equal(old.pids, w.pids) {
		return
	}
	m.want.Store(w)
}

// isLocal says the daemon runs on this machine.
func (m *Model) isLocal(ref Ref) bool {
	for _, n := range m.nodes {
		if n.Local && (ref.Node == "" || ref.Node == n.Name) {
			return true
		}
	}
	return false
}

// Update applies msg to the view.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.fixOffset()
	m.setWanted()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m.key(msg)
	case connectedMsg:
		m.connected = true
		m.stream = msg.stream
		m.setSnapshot(msg.snap)
		return next(m.stream)
	case snapshotMsg:
		m.refreshing--
		if msg.err != nil {
			// The stream, not a refresh, tells whether the supervisor
			// went away: a shutdown refuses requests before it ends the
			// stream.
			if m.refreshing == 0 {
				m.replay = nil
			}
			if !errors.Is(msg.err, context.Canceled) {
				m.say(true, "cannot refresh the status: %v", msg.err)
			}
			return nil
		}
		m.setSnapshot(msg.snap)
		// The events that came while the snapshot was on its way may be
		// newer than it: apply them again.
		for _, e := range m.replay {
			if r := m.rows[m.ref(e)]; r != nil {
				m.step(r, e)
			}
		}
		if m.refreshing == 0 {
			m.replay = nil
		}
	case eventsMsg:
		m.apply(msg.events)
		return tea.Batch(next(m.stream), m.refreshIfNeeded(msg.events))
	case eventsAndEnd:
		m.apply(msg.events)
		return m.update(msg.end)
	case streamEndMsg:
		return m.streamEnded(msg.err)
	case lostMsg:
		if errors.Is(msg.err, context.Canceled) {
			return nil
		}
		return m.end(fmt.Errorf("lost the supervisor: %w", msg.err))
	case sampleMsg:
		m.sample(msg)
		return m.sampleLater()
	case actedMsg:
		if msg.err != nil {
			delete(m.pending, msg.a.Daemon)
			m.say(true, "%v %s: %v", msg.a.Verb, msg.a.Daemon, msg.err)
			return nil
		}
		if _, ok := m.pending[msg.a.Daemon]; ok { // its outcome is not in yet
			m.say(false, "%v %s: requested", msg.a.Verb, msg.a.Daemon)
		}
		// Show the state it is in now (stopping, starting).
		return m.refresh()
	case profilesMsg:
		if msg.err != nil {
			m.say(true, "profiles: %v", msg.err)
			return nil
		}
		if len(msg.names) == 0 {
			m.say(true, "the config defines no profile")
			return nil
		}
		m.profiles, m.mode, m.profCur = msg.names, profilesMode, 0
		if i := slices.Index(msg.names, m.profile()); i >= 0 {
			m.profCur = i
		}
	case profileSetMsg:
		if msg.err != nil {
			m.say(true, "profile %s: %v", msg.name, msg.err)
		} else {
			m.say(false, "profile %s: switched", msg.name)
		}
	case logMsg:
		if msg.seq != m.logSeq {
			return nil // a log closed since
		}
		if errors.Is(msg.end, ErrNotOffered) && len(m.logLines) == 0 && len(msg.lines) == 0 {
			m.closeLog()
			m.mode = tableMode
			m.say(true, "logs %s: %v", m.logRef, msg.end)
			return nil
		}
		m.addLogLines(msg.lines)
		if msg.end != nil {
			if !errors.Is(msg.end, context.Canceled) {
				m.logEnded = msg.end.Error()
			}
			return nil
		}
		return m.nextLog()
	}
	return nil
}

// end ends the view, saying why.
func (m *Model) end(why error) tea.Cmd {
	m.gone = why
	m.done = true
	m.closeLog()
	return tea.Quit
}

func (m *Model) streamEnded(err error) tea.Cmd {
	var remote *control.RemoteError
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, io.EOF):
		return m.end(ErrShutdown)
	case errors.As(err, &remote):
		// Dropped for falling behind: subscribe again.
		m.say(true, "event stream: %v; reconnected", err)
		return m.connect()
	}
	return m.end(fmt.Errorf("lost the supervisor: %w", err))
}

// say sets the status line.
func (m *Model) say(isError bool, format string, args ...any) {
	m.status = fmt.Sprintf(format, args...)
	m.isError = isError
}

func (m *Model) profile() string {
	if len(m.nodes) == 0 {
		return ""
	}
	return m.nodes[0].Profile
}

// setSnapshot replaces every row by the snapshot's.
func (m *Model) setSnapshot(s Snapshot) {
	now := m.opt.Now()
	old := m.rows
	m.rows = map[Ref]*row{}
	m.nodes = m.nodes[:0]
	multi := len(s.Nodes) > 1
	for _, n := range s.Nodes {
		daemons := n.Daemons
		n.Daemons = nil
		m.nodes = append(m.nodes, n)
		for name, d := range daemons {
			ref := Ref{Name: name}
			if multi {
				ref.Node = n.Name
			}
			r := &row{ref: ref, d: d, rev: d.Rev}
			if d.PID != 0 {
				r.since = now.Add(-time.Duration(d.UptimeS * float64(time.Second)))
			}
			if o := old[ref]; o != nil {
				r.last = o.last
				if d.Rev != 0 && o.rev > d.Rev {
					// A status written before an event the row shows: a
					// node publishes its status less often than its
					// events.
					r.d, r.since, r.rev = o.d, o.since, o.rev
					r.d.Owner = d.Owner
				}
			}
			m.rows[ref] = r
		}
	}
	m.sortRows()
}

func (m *Model) sortRows() {
	m.lines = nil
	m.order = m.order[:0]
	for ref := range m.rows {
		m.order = append(m.order, ref)
	}
	slices.SortFunc(m.order, func(a, b Ref) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	m.sorted = m.sorted[:0]
	for _, ref := range m.order {
		m.sorted = append(m.sorted, m.rows[ref])
	}
	if _, ok := m.rows[m.cursor]; !ok {
		m.moveCursor(0)
	}
}

// apply updates the rows with events, in order.
func (m *Model) apply(events []Event) {
	for _, e := range events {
		m.events = append(m.events, shownEvent{e, eventLine(e)})
		for i := range m.nodes {
			if m.nodes[i].Name != e.Node && len(m.nodes) > 1 {
				continue
			}
			switch e.Type {
			case supervisor.ProfileChanged:
				m.nodes[i].Profile = e.Profile
			case NodeUp, NodeDown:
				m.nodes[i].Up = e.Type == NodeUp
				m.lines = nil
			}
		}
		if e.Daemon == "" {
			continue
		}
		ref := m.ref(e)
		r := m.rows[ref]
		if r == nil {
			// A daemon the view has not seen yet: a reload added it.
			r = &row{ref: ref, d: Daemon{DaemonStatus: supervisor.DaemonStatus{Health: "unknown"}}}
			m.rows[ref] = r
			m.sortRows()
		}
		ev := e
		r.last = &ev
		m.step(r, e)
		if m.refreshing > 0 {
			m.replay = append(m.replay, e)
		}
	}
	// Trimmed by half the limit at once: a copy every maxEvents/2 events.
	if n := len(m.events) - maxEvents; n > maxEvents/2 {
		m.events = slices.Delete(m.events, 0, n)
	}
}

// ref returns the row of a daemon event. Rows name their node only when
// there are several: the events of a one-node cluster name it too.
func (m *Model) ref(e Event) Ref {
	if len(m.nodes) > 1 {
		return Ref{Node: e.Node, Name: e.Daemon}
	}
	return Ref{Name: e.Daemon}
}

// step applies one event to a row, and reports the outcome of an action
// asked for from the view.
func (m *Model) step(r *row, e Event) {
	d, since := &r.d, &r.since
	if e.Rev != 0 && e.Rev <= r.rev {
		// Older than what the row shows: only its outcome is news.
		cd, cs := r.d, r.since
		d, since = &cd, &cs
	} else if e.Rev != 0 {
		r.rev = e.Rev
	}
	settled := ""
	switch e.Type {
	case supervisor.DaemonStarted:
		d.State, d.PID, d.BackoffS, d.Done = supervisor.Running, e.PID, 0, false
		*since = e.Time()
		settled = fmt.Sprintf("running, pid %d", e.PID)
	case supervisor.DaemonStopped:
		d.State, d.PID = supervisor.Stopped, 0
		*since = time.Time{}
		if e.Error != "" {
			d.LastError = e.Error
		}
		settled = "stopped"
	case supervisor.DaemonExited:
		d.PID = 0
		*since = time.Time{}
		d.LastExit = &supervisor.ExitStatus{Code: -1, Signal: e.Signal}
		if e.ExitCode != nil {
			d.LastExit.Code = *e.ExitCode
		}
		if d.Health != "none" {
			d.Health = "unknown"
		}
	case supervisor.DaemonRestarting:
		d.State, d.PID = supervisor.Restarting, 0
		if e.RestartCount != nil {
			d.RestartCount = *e.RestartCount
		}
		if e.DelayS != nil {
			d.BackoffS = *e.DelayS
		}
	case supervisor.DaemonFailed:
		d.State, d.PID, d.LastError = supervisor.Failed, 0, e.Error
		settled = "failed: " + e.Error
	case supervisor.DaemonImportFailed:
		d.State, d.PID, d.LastError = supervisor.ImportFailed, 0, e.Error
		settled = "import_failed: " + e.Error
	case supervisor.DaemonHealthy:
		d.Health = "healthy"
	case supervisor.DaemonUnhealthy:
		d.Health = "unhealthy"
	}
	if settled == "" {
		return
	}
	if v, ok := m.pending[r.ref]; ok && !(e.Type == supervisor.DaemonStopped && (v == Restart || v == ForceRestart)) {
		// A restart's stop is on its way, not its outcome.
		delete(m.pending, r.ref)
		m.say(strings.Contains(settled, "failed"), "%v %s: %s", v, r.ref, settled)
	}
}

// refreshIfNeeded takes a new snapshot after events that say less than
// the status: a reload adds and removes daemons, a profile switch moves
// daemons in and out of it, a stop with code 0 may be a oneshot that
// is done, and a node that comes or goes brings or takes its daemons.
func (m *Model) refreshIfNeeded(events []Event) tea.Cmd {
	for _, e := range events {
		switch {
		case e.Type == supervisor.ConfigReloaded, e.Type == supervisor.ProfileChanged,
			e.Type == NodeUp, e.Type == NodeDown,
			e.Type == supervisor.DaemonStopped && e.ExitCode != nil && *e.ExitCode == 0:
			return m.refresh()
		}
	}
	return nil
}

// sample computes CPU% and RSS from two passes over /proc.
func (m *Model) sample(s sampleMsg) {
	dt := s.At.Sub(m.prev.At).Seconds()
	clear(m.cpu)
	clear(m.rss)
	lookup := func(pid int, now, prev map[int]usage) {
		u, ok := now[pid]
		if !ok {
			return
		}
		m.rss[pid] = u.RSS
		if p, ok := prev[pid]; ok && dt > 0 && u.Ticks >= p.Ticks {
			m.cpu[pid] = float64(u.Ticks-p.Ticks) / clockTicks / dt * 100
		}
	}
	for _, n := range m.nodes {
		if n.Local {
			lookup(n.PID, s.Procs, m.prev.Procs)
		}
	}
	for _, r := range m.rows {
		if r.d.PID != 0 && m.isLocal(r.ref) {
			// Each daemon leads its own process group.
			lookup(r.d.PID, s.Groups, m.prev.Groups)
		}
	}
	m.prev = s
	m.sampled = true
}

// visible returns the rows the filter lets through, in order.
func (m *Model) visible() []Ref {
	if m.filter == "" {
		return m.order
	}
	var refs []Ref
	for _, ref := range m.order {
		if strings.Contains(ref.Name, m.filter) {
			refs = append(refs, ref)
		}
	}
	return refs
}

// moveCursor moves the selection by delta rows among the visible ones.
func (m *Model) moveCursor(delta int) {
	vis := m.visible()
	if len(vis) == 0 {
		m.cursor = Ref{}
		return
	}
	i := slices.Index(vis, m.cursor)
	if i < 0 {
		i = 0
	} else {
		i = max(0, min(len(vis)-1, i+delta))
	}
	m.cursor = vis[i]
}

// selected returns the selected row, or nil.
func (m *Model) selected() *row {
	return m.rows[m.cursor]
}
