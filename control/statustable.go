package control

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// tableColumns are the columns of `ctl status`, in order.
var tableColumns = [...]string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "INFO"}

// stateColors are the ANSI colours of the STATE column in a terminal.
var stateColors = map[string]string{
	"running":       "\x1b[32m", // green
	"done":          "\x1b[32m",
	"starting":      "\x1b[33m", // yellow
	"restarting":    "\x1b[33m",
	"stopping":      "\x1b[33m",
	"failed":        "\x1b[31m", // red
	"import_failed": "\x1b[31m",
}

const colorReset = "\x1b[0m"

// appendStatusTable appends st to b as `ctl status` prints it: an aligned
// table, one daemon a line, sorted by name, columns two spaces apart (the
// last one unpadded). STATE is "done" for a oneshot daemon that completed.
// INFO is the last error, or else how the daemon last exited, after the
// time left before a pending restart and, for a singleton, "owner: NODE".
// With color, STATE is coloured by
// stateColors; the alignment counts only the visible characters.
func appendStatusTable(b []byte, st supervisor.StatusList, color bool) []byte {
	ds := make([]*supervisor.NamedDaemonStatus, len(st.Daemons))
	for i := range st.Daemons {
		ds[i] = &st.Daemons[i]
	}
	// selfplay@2 before selfplay@10
	slices.SortFunc(ds, func(a, b *supervisor.NamedDaemonStatus) int { return config.CompareNames(a.Name, b.Name) })
	rows := make([][len(tableColumns)]string, 0, len(ds)+1)
	rows = append(rows, tableColumns)
	for _, d := range ds {
		rows = append(rows, tableRow(d.Name, d.DaemonStatus))
	}
	var width [len(tableColumns)]int
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for r, row := range rows {
		for i, cell := range row {
			if i == len(row)-1 {
				b = append(b, cell...)
				break
			}
			pad := width[i] - utf8.RuneCountInString(cell) + 2
			if c := stateColors[cell]; color && i == 1 && r > 0 && c != "" {
				b = append(b, c...)
				b = append(b, cell...)
				b = append(b, colorReset...)
			} else {
				b = append(b, cell...)
			}
			for range pad {
				b = append(b, ' ')
			}
		}
		b = append(b, '\n')
	}
	return b
}

// tableRow returns the cells of one daemon's line.
func tableRow(name string, d supervisor.DaemonStatus) [len(tableColumns)]string {
	pid, uptime := "-", "-"
	if d.PID != 0 {
		pid = strconv.Itoa(d.PID)
	}
	if d.State == supervisor.Running {
		uptime = FormatUptime(time.Duration(d.UptimeS * float64(time.Second)))
	}
	info := d.LastError
	if info == "" && d.LastExit != nil {
		if d.LastExit.Signal != "" {
			info = "last exit: " + d.LastExit.Signal
		} else {
			info = "last exit: code " + strconv.Itoa(d.LastExit.Code)
		}
	}
	state := d.State.String()
	if d.Done {
		state = "done" // a oneshot that completed
	}
	if len(d.Leftovers) > 0 {
		info = fmt.Sprintf("escaped its group: pids %s; %s", strings.Trim(fmt.Sprint(d.Leftovers), "[]"), info)
	}
	if d.State == supervisor.Restarting && d.BackoffS > 0 {
		info = fmt.Sprintf("restart in %.1fs; %s", d.BackoffS, info)
	}
	if o := SingletonOwner(d); o != "" {
		info = strings.TrimSuffix("owner: "+o+"; "+info, "; ")
	}
	return [...]string{name, state, pid, uptime, strconv.Itoa(d.RestartCount), d.Health, info}
}

// SingletonOwner returns the node that holds a singleton daemon, "none", or
// "" for a daemon that is not a singleton.
func SingletonOwner(d supervisor.DaemonStatus) string {
	switch {
	case d.Singleton == nil:
		return ""
	case d.Singleton.Owner == "":
		return "none"
	}
	return d.Singleton.Owner
}
