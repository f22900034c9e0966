package top

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

// Styles. Colours are dropped by the program where the terminal has none
// or NO_COLOR is set; bold and reverse stay.
var (
	styleTitle    = lipgloss.NewStyle().Bold(true)
	styleColumns  = lipgloss.NewStyle().Bold(true).Underline(true)
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleError    = lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true)
	styleDim      = lipgloss.NewStyle().Faint(true)
	styleMatch    = lipgloss.NewStyle().Reverse(true)
	styleNode     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Blue)
	stateStyles   = map[supervisor.State]lipgloss.Style{
		supervisor.Running:      lipgloss.NewStyle().Foreground(lipgloss.Green),
		supervisor.Starting:     lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		supervisor.Restarting:   lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		supervisor.Stopping:     lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		supervisor.Stopped:      lipgloss.NewStyle().Faint(true),
		supervisor.Failed:       lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true),
		supervisor.ImportFailed: lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true),
	}
)

// The footers: the keys of each mode.
const (
	tableKeys   = "r/R:restart s:stop S:start l:log e:events p:profile /:filter ?:help q:quit"
	logKeys     = "↑↓:scroll /:search n/N:older/newer match End:follow Esc:back q:quit"
	eventKeys   = "↑↓:scroll /:filter End:newest Esc:back q:quit"
	profileKeys = "↑↓:choose Enter:switch Esc:back q:quit"
)

// helpText is the help screen.
const helpText = `Keys
  ↑ ↓  j k      move; PgUp PgDn Home End too
  r             restart the daemon (asks first)
  R             restart --force: also resets restart_count and the error
  s             stop the daemon (asks first)
  S             start the daemon (asks first)
  l  Enter      its log, following; / search, n N next match, Esc back
  e             the events pane; / filters it, Esc back
  p             switch the profile, from the config's list
  /             filter the daemons by name; Esc clears
  ?             this help
  q  Ctrl-C     quit

CPU% and RSS are of each daemon's whole process group, read from /proc
once a second, for the daemons on screen, while this view is open.

Any key closes this help.`

// The table's fixed columns and their widths.
var columns = []struct {
	title string
	width int
	right bool
}{
	{"STATE", 0, false}, // as wide as the longest state shown
	{"PID", 7, true},
	{"UPTIME", 6, true},
	{"RST", 3, true},
	{"HEALTH", 9, false},
	{"CPU%", 5, true},
	{"RSS", 5, true},
}

// View renders the screen.
func (m *Model) View() tea.View {
	var lines []string
	switch m.mode {
	case logsMode:
		lines = m.logView()
	case eventsMode:
		lines = m.eventsView()
	case helpMode:
		lines = append(m.header(), strings.Split(helpText, "\n")...)
	case profilesMode:
		lines = m.profilesView()
	default:
		lines = m.tableView()
	}
	for i, l := range lines {
		lines[i] = truncate(l, m.width)
	}
	for len(lines) < m.height {
		lines = append(lines, "")
	}
	lines = lines[:m.height]
	v := tea.NewView(strings.Join(lines, "\n"))
	v.AltScreen = true
	v.WindowTitle = "ringsup top"
	return v
}

// header is the two lines at the top of every screen.
func (m *Model) header() []string {
	if !m.connected {
		return []string{styleTitle.Render("ringsup top") + "  connecting to " + m.opt.Where + " ...", ""}
	}
	var first []string
	var second []string
	for _, n := range m.nodes {
		s := styleTitle.Render("node "+n.Name) + "  profile " + orDash(n.Profile)
		if !n.Up {
			s += styleError.Render(" (down)")
		}
		if n.Local && n.PID > 0 {
			s += fmt.Sprintf("  supervisor pid %d", n.PID)
			if m.sampled {
				s += fmt.Sprintf(" cpu %s%% rss %s", fmtCPU(m.cpu, n.PID), fmtRSS(m.rss, n.PID))
			}
		}
		first = append(first, s)
		if n.Config != "" && len(m.nodes) == 1 {
			second = append(second, "config "+n.Config)
		}
	}
	counts := make([]int, len(supervisor.States()))
	done := 0
	for _, r := range m.sorted {
		switch {
		case r.d.Done && r.d.State == supervisor.Stopped:
			done++
		case int(r.d.State) < len(counts):
			counts[r.d.State]++
		}
	}
	var cs []string
	for _, st := range supervisor.States() {
		if counts[st] > 0 {
			cs = append(cs, stateStyles[st].Render(fmt.Sprintf("%d %v", counts[st], st)))
		}
		if st == supervisor.Stopped && done > 0 {
			cs = append(cs, stateStyles[st].Render(fmt.Sprintf("%d done", done)))
		}
	}
	if len(cs) == 0 {
		cs = append(cs, "no daemons")
	}
	second = append(second, strings.Join(cs, " · "))
	if len(m.nodes) > 1 {
		title := fmt.Sprintf("cluster: %d nodes", len(m.nodes))
		down := 0
		for _, n := range m.nodes {
			if !n.Up {
				down++
			}
		}
		first = []string{styleTitle.Render(title)}
		if down > 0 {
			first = append(first, styleError.Render(fmt.Sprintf("%d down", down)))
		}
	}
	return []string{strings.Join(first, "   "), strings.Join(second, "  ")}
}

// tableHeight is the number of table lines that fit on the screen.
func (m *Model) tableHeight() int { return max(1, m.height-7) }

// paneHeight is the number of log or event lines that fit on the screen.
func (m *Model) paneHeight() int { return max(1, m.height-5) }

// tableLine is a line of the table: a daemon, or a node's title.
type tableLine struct {
	ref  Ref
	node string
}

// tableLines returns the table's lines: the visible daemons, under their
// node's title when there are several nodes. The list is kept until the
// rows, the nodes or the filter change.
func (m *Model) tableLines() []tableLine {
	if m.lines != nil {
		return m.lines
	}
	out := []tableLine{}
	if len(m.nodes) < 2 {
		for _, ref := range m.visible() {
			out = append(out, tableLine{ref: ref})
		}
		m.lines = out
		return out
	}
	byNode := map[string][]Ref{}
	if m.filter == "" {
		// A node with no daemon (one that is down has none published)
		// still has its title.
		for _, n := range m.nodes {
			byNode[n.Name] = nil
		}
	}
	for _, ref := range m.visible() {
		byNode[ref.Node] = append(byNode[ref.Node], ref)
	}
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		out = append(out, tableLine{node: node})
		for _, ref := range byNode[node] {
			out = append(out, tableLine{ref: ref})
		}
	}
	m.lines = out
	return out
}

// fixOffset scrolls the table so that the selected daemon is in view.
func (m *Model) fixOffset() {
	lines := m.tableLines()
	i := slices.IndexFunc(lines, func(l tableLine) bool { return l.node == "" && l.ref == m.cursor })
	h := m.tableHeight()
	if i >= 0 {
		if i < m.offset {
			m.offset = i
			if i > 0 && lines[i-1].node != "" {
				m.offset-- // keep its node's title in view
			}
		}
		if i >= m.offset+h {
			m.offset = i - h + 1
		}
	}
	m.offset = max(0, min(m.offset, len(lines)-h))
}

func (m *Model) tableView() []string {
	lines := m.header()
	widths, nameW, lastW := m.widths()
	var head strings.Builder
	head.WriteString("  " + pad("NAME", nameW, false))
	for i, c := range columns {
		head.WriteString(" " + pad(c.title, widths[i], c.right))
	}
	if lastW > 0 {
		head.WriteString(" " + pad("LAST EVENT", lastW, false))
	}
	lines = append(lines, styleColumns.Render(head.String()))
	tl := m.tableLines()
	h := m.tableHeight()
	now := m.opt.Now()
	for i := m.offset; i < len(tl) && i < m.offset+h; i++ {
		l := tl[i]
		if l.node != "" {
			lines = append(lines, m.nodeTitle(l.node))
			continue
		}
		lines = append(lines, m.rowLine(m.rows[l.ref], widths, nameW, lastW, now))
	}
	if len(tl) == 0 && m.connected {
		if m.filter != "" {
			lines = append(lines, styleDim.Render(fmt.Sprintf("  no daemon matches /%s (Esc clears)", m.filter)))
		} else {
			lines = append(lines, styleDim.Render("  no daemons in the config"))
		}
	}
	for len(lines) < h+3 {
		lines = append(lines, "")
	}
	lines = append(lines, m.detail(now)...)
	lines = append(lines, m.statusLine(), styleDim.Render(tableKeys))
	return lines
}

// widths returns the widths of the fixed columns, and of the NAME and
// LAST EVENT columns, which share what the fixed columns leave.
func (m *Model) widths() (fixed []int, name, last int) {
	used := 2
	longest := 4
	stateW := len("STATE")
	for _, r := range m.sorted {
		longest = max(longest, len(r.ref.Name))
		if r.d.Owner != "" || r.d.State == supervisor.ImportFailed || r.d.State == supervisor.Restarting {
			stateW = max(stateW, len(stateText(r.d)))
		}
	}
	stateW = max(stateW, len("stopping")) // the longest of the others
	for _, c := range columns {
		w := c.width
		if w == 0 {
			w = stateW
		}
		fixed = append(fixed, w)
		used += w + 1
	}
	room := m.width - used
	name = min(longest, max(10, room-10))
	last = min(room-name-1, 40)
	if last < 6 {
		last = 0
	}
	return fixed, name, last
}

// stateText is a daemon's state, with the node holding it when it is a
// singleton held elsewhere.
func stateText(d Daemon) string {
	st := d.State.String()
	if d.Done && d.State == supervisor.Stopped {
		st = "done" // a oneshot that completed, as ctl status says
	}
	if d.Owner != "" {
		st += "@" + d.Owner
	}
	return st
}

func (m *Model) nodeTitle(node string) string {
	for _, n := range m.nodes {
		if n.Name == node && !n.Up {
			return styleNode.Render("── "+node) + styleError.Render(" (down)")
		}
	}
	return styleNode.Render("── " + node)
}

func (m *Model) rowLine(r *row, widths []int, nameW, lastW int, now time.Time) string {
	d := r.d
	state := stateText(d)
	pid, uptime := "-", "-"
	if d.PID != 0 {
		pid = fmt.Sprint(d.PID)
		if !r.since.IsZero() {
			uptime = control.FormatUptime(now.Sub(r.since))
		}
	}
	cpu, rss := "-", "-"
	if d.PID != 0 && m.sampled {
		cpu, rss = fmtCPU(m.cpu, d.PID), fmtRSS(m.rss, d.PID)
	}
	health := orDash(d.Health)
	cells := []string{state, pid, uptime, fmt.Sprint(d.RestartCount), health, cpu, rss}
	sel := r.ref == m.cursor
	var b strings.Builder
	if sel {
		b.WriteString("> ")
	} else {
		b.WriteString("  ")
	}
	b.WriteString(pad(r.ref.Name, nameW, false))
	for i, c := range columns {
		var cell string
		if i == 0 && !sel {
			cell = m.stateCell(d, widths[0])
		} else {
			cell = pad(cells[i], widths[i], c.right)
		}
		b.WriteString(" " + cell)
	}
	if lastW > 0 && r.last != nil {
		b.WriteString(" " + pad(control.FormatUptime(now.Sub(r.last.Time()))+" "+shortEvent(r.last), lastW, false))
	}
	if sel {
		return styleSelected.Render(b.String())
	}
	return b.String()
}

// stateCell is the STATE cell of d, coloured; the cells are kept, as there
// are few of them.
func (m *Model) stateCell(d Daemon, w int) string {
	key := stateKey{stateText(d), d.State, w}
	c, ok := m.stateCells[key]
	if !ok {
		c = stateStyles[d.State].Render(pad(key.text, w, false))
		if len(m.stateCells) > 1000 {
			clear(m.stateCells)
		}
		m.stateCells[key] = c
	}
	return c
}

type stateKey struct {
	text  string
	state supervisor.State
	width int
}

// detail is the two lines under the table about the selected daemon: its
// last event, and how it last ended.
func (m *Model) detail(now time.Time) []string {
	r := m.selected()
	if r == nil {
		return []string{"", ""}
	}
	first := styleTitle.Render(r.ref.String())
	if r.last != nil {
		e := *r.last
		e.Daemon = "" // named first on the line
		first += fmt.Sprintf("  %s ago: %s", control.FormatUptime(now.Sub(r.last.Time())), eventText(e))
	}
	var parts []string
	if d := r.d; d.LastExit != nil && d.PID == 0 {
		parts = append(parts, "last exit "+fmtExit(d.LastExit))
	}
	if r.d.State == supervisor.Restarting && r.d.BackoffS > 0 {
		parts = append(parts, fmt.Sprintf("backoff %.1fs", r.d.BackoffS))
	}
	if r.d.LastError != "" {
		parts = append(parts, styleError.Render("last error: "+r.d.LastError))
	}
	if r.d.Owner != "" {
		parts = append(parts, "singleton held by "+r.d.Owner)
	}
	return []string{first, "  " + strings.Join(parts, "  ")}
}

// statusLine is the line above the footer: a question, a prompt, or what
// the last action did.
func (m *Model) statusLine() string {
	switch {
	case m.gone != nil:
		return styleError.Render(m.gone.Error())
	case m.confirm != nil:
		return styleTitle.Render(fmt.Sprintf("%v %s? y to confirm, any other key cancels", m.confirm.Verb, m.confirm.Daemon))
	case m.prompt == filterPrompt:
		return "filter daemons: /" + m.input + "_  (Enter keeps, Esc clears)"
	case m.prompt == logSearchPrompt:
		return "search the log: /" + m.input + "_  (Enter searches, Esc cancels)"
	case m.prompt == eventFilterPrompt:
		return "filter events: /" + m.input + "_  (Enter keeps, Esc clears)"
	case m.isError:
		return styleError.Render(m.status)
	}
	if m.status == "" && m.filter != "" && m.mode == tableMode {
		return fmt.Sprintf("filter /%s  (/ edits, Esc clears)", m.filter)
	}
	return m.status
}

func (m *Model) logView() []string {
	lines := m.header()
	title := "log of " + m.logRef.String()
	switch {
	case m.logEnded != "":
		title += "  " + styleError.Render(m.logEnded)
	case m.logOff == 0:
		title += "  (following)"
	default:
		title += fmt.Sprintf("  (%d lines back; End follows)", m.logOff)
	}
	lines = append(lines, styleColumns.Render(title))
	h := m.paneHeight()
	end := len(m.logLines) - m.logOff
	start := max(0, end-h)
	for _, l := range m.logLines[start:end] {
		lines = append(lines, highlight(ansi.Strip(l), m.logFind))
	}
	for len(lines) < h+3 {
		lines = append(lines, "")
	}
	return append(lines, m.statusLine(), styleDim.Render(logKeys))
}

// shownEvent is an event with its line in the events pane.
type shownEvent struct {
	e    Event
	line string
}

// eventLine is an event as a line of the events pane.
func eventLine(e Event) string {
	t := e.Time().Local().Format("15:04:05")
	s := t + " "
	if e.Node != "" {
		s += e.Node + " "
	}
	s += eventText(e)
	return s
}

// filteredEvents returns the events the events filter lets through.
func (m *Model) filteredEvents() []string {
	var out []string
	for _, e := range m.events[max(0, len(m.events)-maxEvents):] {
		if m.evFind == "" || strings.Contains(e.line, m.evFind) {
			out = append(out, e.line)
		}
	}
	return out
}

func (m *Model) eventsView() []string {
	lines := m.header()
	evs := m.filteredEvents()
	title := fmt.Sprintf("events since the view opened (%d", len(evs))
	if m.evFind != "" {
		title += fmt.Sprintf(" of %d, filter /%s", len(m.events), m.evFind)
	}
	title += ")"
	if m.evOff > 0 {
		title += fmt.Sprintf("  %d back; End shows the newest", m.evOff)
	}
	lines = append(lines, styleColumns.Render(title))
	h := m.paneHeight()
	end := len(evs) - m.evOff
	for _, l := range evs[max(0, end-h):max(0, end)] {
		lines = append(lines, highlight(l, m.evFind))
	}
	for len(lines) < h+3 {
		lines = append(lines, "")
	}
	return append(lines, m.statusLine(), styleDim.Render(eventKeys))
}

func (m *Model) profilesView() []string {
	lines := append(m.header(), styleColumns.Render("switch the profile to"))
	for i, p := range m.profiles {
		l := "  " + p
		if p == m.profile() {
			l += "  (active)"
		}
		if i == m.profCur {
			l = styleSelected.Render("> " + l[2:])
		}
		lines = append(lines, l)
	}
	for len(lines) < m.paneHeight()+3 {
		lines = append(lines, "")
	}
	return append(lines, m.statusLine(), styleDim.Render(profileKeys))
}

// eventText is an event as words: its type, daemon and fields.
func eventText(e Event) string {
	s := string(e.Type)
	if e.Daemon != "" {
		s += " " + e.Daemon
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(e.Raw, &fields) != nil {
		return s
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		switch k {
		case "type", "timestamp", "daemon_type", "node":
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := string(fields[k])
		var str string
		if json.Unmarshal(fields[k], &str) == nil && !strings.ContainsAny(str, " \t") {
			v = str
		}
		s += " " + k + "=" + v
	}
	return s
}

// shortEvent is an event in a word or two, for the LAST EVENT column.
func shortEvent(e *Event) string {
	switch e.Type {
	case supervisor.DaemonExited:
		if e.Signal != "" {
			return e.Signal
		}
		if e.ExitCode != nil {
			return fmt.Sprintf("exit %d", *e.ExitCode)
		}
		return "exited"
	case supervisor.DaemonRestarting:
		if e.RestartCount != nil {
			return fmt.Sprintf("restart #%d", *e.RestartCount)
		}
	case supervisor.DaemonImportFailed:
		return "import failed"
	case supervisor.DaemonStarted:
		return "up"
	case supervisor.DaemonStopped:
		return "stop"
	}
	return strings.ToLower(strings.TrimPrefix(string(e.Type), "DAEMON_"))
}

func fmtExit(x *supervisor.ExitStatus) string {
	if x.Signal != "" {
		return x.Signal
	}
	return fmt.Sprintf("code %d", x.Code)
}

// highlight shows the occurrences of find in s.
func highlight(s, find string) string {
	if find == "" || !strings.Contains(s, find) {
		return s
	}
	parts := strings.Split(s, find)
	return strings.Join(parts, styleMatch.Render(find))
}

// truncate cuts s to width w, marking the cut with "…". Plain ASCII,
// most of what the view draws, is measured by its length.
func truncate(s string, w int) string {
	if len(s) <= w && isPlain(s) {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// isPlain says s is printable ASCII, one cell a byte.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// pad pads or cuts s to width w, on the left when right is set.
func pad(s string, w int, right bool) string {
	s = truncate(s, w)
	var n int
	if isPlain(s) {
		n = w - len(s)
	} else {
		n = w - ansi.StringWidth(s)
	}
	if n <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", n) + s
	}
	return s + strings.Repeat(" ", n)
}

func fmtCPU(cpu map[int]float64, pid int) string {
	c, ok := cpu[pid]
	switch {
	case !ok:
		return "-"
	case c < 100:
		return fmt.Sprintf("%.1f", c)
	}
	return fmt.Sprintf("%.0f", c)
}

// fmtRSS is a size in at most 5 characters: 812K, 12.3M, 456M, 1.2G.
func fmtRSS(rss map[int]int64, pid int) string {
	b, ok := rss[pid]
	if !ok {
		return "-"
	}
	const k, mi, gi = 1 << 10, 1 << 20, 1 << 30
	switch {
	case b < mi:
		return fmt.Sprintf("%dK", b/k)
	case b < 100*mi:
		return fmt.Sprintf("%.1fM", float64(b)/mi)
	case b < gi:
		return fmt.Sprintf("%dM", b/mi)
	}
	return fmt.Sprintf("%.1fG", float64(b)/gi)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
