package top

import (
	"context"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// key handles a key press.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if s == "ctrl+c" {
		m.done = true
		m.closeLog()
		return tea.Quit
	}
	if m.prompt != noPrompt {
		return m.typeKey(k)
	}
	if m.confirm != nil {
		return m.confirmKey(s)
	}
	switch m.mode {
	case helpMode:
		m.mode = tableMode // any key closes the help
		if s == "q" {
			return m.quit()
		}
		return nil
	case logsMode:
		return m.logsKey(s)
	case eventsMode:
		return m.eventsKey(s)
	case profilesMode:
		return m.profilesKey(s)
	}
	return m.tableKey(s)
}

func (m *Model) quit() tea.Cmd {
	m.done = true
	m.closeLog()
	return tea.Quit
}

func (m *Model) tableKey(s string) tea.Cmd {
	switch s {
	case "q":
		return m.quit()
	case "up", "k":
		m.moveCursor(-1)
	case "down", "j":
		m.moveCursor(1)
	case "pgup":
		m.moveCursor(-m.tableHeight())
	case "pgdown":
		m.moveCursor(m.tableHeight())
	case "home", "g":
		m.moveCursor(-len(m.order))
	case "end", "G":
		m.moveCursor(len(m.order))
	case "r", "R", "s", "S":
		r := m.selected()
		if r == nil {
			m.say(true, "no daemon selected")
			return nil
		}
		verb := map[string]Verb{"r": Restart, "R": ForceRestart, "s": Stop, "S": Start}[s]
		m.confirm = &Action{Verb: verb, Daemon: r.ref}
	case "l", "enter":
		if r := m.selected(); r != nil {
			return m.openLog(r.ref)
		}
	case "e":
		m.mode, m.evOff = eventsMode, 0
	case "p":
		ctx, src, node := m.ctx, m.opt.Source, m.cursor.Node
		return func() tea.Msg {
			names, err := src.Profiles(ctx, node)
			return profilesMsg{names, err}
		}
	case "/":
		m.prompt, m.input = filterPrompt, m.filter
	case "esc":
		m.filter = ""
		m.lines = nil
		m.moveCursor(0)
	case "?":
		m.mode = helpMode
	}
	return nil
}

// confirmKey answers the confirmation of an action: y goes ahead, any
// other key cancels.
func (m *Model) confirmKey(s string) tea.Cmd {
	a := *m.confirm
	m.confirm = nil
	if s != "y" && s != "Y" {
		m.say(false, "%v %s: cancelled", a.Verb, a.Daemon)
		return nil
	}
	m.pending[a.Daemon] = a.Verb
	m.say(false, "%v %s ...", a.Verb, a.Daemon)
	ctx, src := m.ctx, m.opt.Source
	return func() tea.Msg {
		return actedMsg{a, src.Act(ctx, a)}
	}
}

// typeKey edits the prompt's text. Enter keeps it; Esc drops it.
func (m *Model) typeKey(k tea.KeyPressMsg) tea.Cmd {
	p := m.prompt
	switch k.String() {
	case "enter":
		m.prompt = noPrompt
		m.setPrompt(p, m.input, true)
		return nil
	case "esc":
		m.prompt = noPrompt
		m.setPrompt(p, "", true)
		return nil
	case "backspace":
		if m.input != "" {
			r := []rune(m.input)
			m.input = string(r[:len(r)-1])
		}
	default:
		if k.Text == "" {
			return nil
		}
		m.input += k.Text
	}
	m.setPrompt(p, m.input, false)
	return nil
}

// setPrompt applies the text of a prompt as it is typed (final is false)
// and when it is done.
func (m *Model) setPrompt(p prompt, text string, final bool) {
	switch p {
	case filterPrompt:
		m.filter = text
		m.lines = nil
		m.moveCursor(0)
	case eventFilterPrompt:
		m.evFind, m.evOff = text, 0
	case logSearchPrompt:
		if final {
			m.logFind = text
			m.findLog(text, -1, true)
		}
	}
}

func (m *Model) eventsKey(s string) tea.Cmd {
	switch s {
	case "q":
		return m.quit()
	case "esc", "e":
		if s == "esc" && m.evFind != "" {
			m.evFind = ""
			return nil
		}
		m.mode = tableMode
	case "/":
		m.prompt, m.input = eventFilterPrompt, m.evFind
	case "?":
		m.mode = helpMode
	default:
		m.scroll(s, &m.evOff, len(m.events))
	}
	m.evOff = max(0, min(m.evOff, len(m.filteredEvents())-m.paneHeight()))
	return nil
}

// scroll moves a pane's offset from its end (its newest line) by the
// scrolling key s, if it is one, in a pane of n lines.
func (m *Model) scroll(s string, off *int, n int) {
	switch s {
	case "up", "k":
		*off++
	case "down", "j":
		*off--
	case "pgup":
		*off += m.paneHeight()
	case "pgdown":
		*off -= m.paneHeight()
	case "home", "g":
		*off = n
	case "end", "G":
		*off = 0
	}
}

func (m *Model) profilesKey(s string) tea.Cmd {
	switch s {
	case "q":
		return m.quit()
	case "esc", "p":
		m.mode = tableMode
	case "up", "k":
		m.profCur = max(0, m.profCur-1)
	case "down", "j":
		m.profCur = min(len(m.profiles)-1, m.profCur+1)
	case "enter":
		m.mode = tableMode
		name := m.profiles[m.profCur]
		m.say(false, "profile %s ...", name)
		ctx, src, node := m.ctx, m.opt.Source, m.cursor.Node
		return func() tea.Msg {
			return profileSetMsg{name, src.SetProfile(ctx, node, name)}
		}
	}
	return nil
}

func (m *Model) logsKey(s string) tea.Cmd {
	switch s {
	case "q":
		return m.quit()
	case "esc":
		m.closeLog()
		m.mode = tableMode
	case "/":
		m.prompt, m.input = logSearchPrompt, m.logFind
	case "n":
		m.findLog(m.logFind, -1, false)
	case "N":
		m.findLog(m.logFind, 1, false)
	case "?":
		m.mode = helpMode
	default:
		m.scroll(s, &m.logOff, len(m.logLines))
	}
	m.clampLog()
	return nil
}

func (m *Model) clampLog() {
	m.logOff = max(0, min(m.logOff, len(m.logLines)-m.paneHeight()))
}

// findLog scrolls the log to the next line holding text, going back
// (dir -1) or forward (dir 1) from the last match; a new search (fromEnd)
// starts at the end of the log.
func (m *Model) findLog(text string, dir int, fromEnd bool) {
	if text == "" {
		return
	}
	n := len(m.logLines)
	at := m.logAt
	if fromEnd || at >= n {
		at = n
	}
	for i := at + dir; i >= 0 && i < n; i += dir {
		if strings.Contains(m.logLines[i], text) {
			m.logAt = i
			// Show the match mid-pane.
			m.logOff = n - 1 - i - m.paneHeight()/2
			m.clampLog()
			m.say(false, "/%s: line %d of %d", text, i+1, n)
			return
		}
	}
	m.say(true, "/%s: not found", text)
}

// openLog opens the log pane on a daemon and starts following its log.
func (m *Model) openLog(ref Ref) tea.Cmd {
	m.closeLog()
	m.mode = logsMode
	m.logRef, m.logLines, m.logOff, m.logAt, m.logFind, m.logEnded = ref, nil, 0, 0, "", ""
	m.logSeq++
	ctx, cancel := context.WithCancel(m.ctx)
	m.logCancel = cancel
	ch := make(chan logItem, 64)
	m.logCh = ch
	m.logCtx = ctx
	src := m.opt.Source
	go func() {
		w := &lineWriter{ctx: ctx, ch: ch}
		err := src.Logs(ctx, ref, logBacklog, w)
		w.flush()
		if err == nil {
			err = errLogEnded
		}
		select {
		case ch <- logItem{end: err}:
		case <-ctx.Done():
		}
	}()
	return m.nextLog()
}

func (m *Model) closeLog() {
	if m.logCancel != nil {
		m.logCancel()
		m.logCancel = nil
	}
}

// nextLog waits for more lines of the open log.
func (m *Model) nextLog() tea.Cmd {
	ch, seq, ctx := m.logCh, m.logSeq, m.logCtx
	return func() tea.Msg {
		var it logItem
		select {
		case it = <-ch:
		case <-ctx.Done():
			return nil
		}
		msg := logMsg{seq: seq, lines: it.lines, end: it.end}
		for msg.end == nil {
			select {
			case it = <-ch:
				msg.lines = append(msg.lines, it.lines...)
				msg.end = it.end
			default:
				return msg
			}
		}
		return msg
	}
}

func (m *Model) addLogLines(lines []string) {
	m.logLines = append(m.logLines, lines...)
	if n := len(m.logLines) - maxLogLines; n > 0 {
		m.logLines = m.logLines[n:]
		m.logAt -= n
	}
	if m.logOff > 0 {
		m.logOff += len(lines) // keep the lines in view where they are
		m.clampLog()
	}
}
