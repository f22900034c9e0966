package control

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// tabwriterTable is how `ctl status` printed the table before the
// supervisor rendered it: text/tabwriter over the decoded status. The
// table must not have changed.
func tabwriterTable(st supervisor.Status) string {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableColumns[:], "\t"))
	names := st.Names()
	slices.SortFunc(names, config.CompareNames)
	for _, name := range names {
		fmt.Fprintln(tw, strings.Join(func() []string { r := tableRow(name, st.Daemons[name]); return r[:] }(), "\t"))
	}
	tw.Flush()
	bw.Flush()
	return b.String()
}

func tableStatus() supervisor.Status {
	return supervisor.Status{Daemons: map[string]supervisor.DaemonStatus{
		"event_router":   {State: supervisor.Running, PID: 22340, UptimeS: 11.3, Health: "healthy"},
		"flaky_uploader": {State: supervisor.Restarting, RestartCount: 3, Health: "none", BackoffS: 1.5, LastError: "exited unexpectedly: exit status 1", LastExit: &supervisor.ExitStatus{Code: 1}},
		"prepare_data":   {State: supervisor.Stopped, Done: true, Health: "none", LastExit: &supervisor.ExitStatus{Code: 0}},
		"broken":         {State: supervisor.ImportFailed, Health: "none", LastError: `cannot execute "./x": not found`},
		"evaluator":      {State: supervisor.Stopped, Health: "none", LastExit: &supervisor.ExitStatus{Code: -1, Signal: "SIGKILL"}},
		"trainer":        {State: supervisor.Running, PID: 7, UptimeS: 7300, Health: "none", Leftovers: []int{8, 9}},
		"ünïcode":        {State: supervisor.Starting, Health: "unknown"},
		// Instances: @2 before @10.
		"selfplay@10": {Daemon: "selfplay", State: supervisor.Running, PID: 31, UptimeS: 5, Health: "none"},
		"selfplay@2":  {Daemon: "selfplay", State: supervisor.Running, PID: 23, UptimeS: 5, Health: "none"},
	}}
}

func TestStatusTableMatchesTabwriter(t *testing.T) {
	for _, st := range []supervisor.Status{tableStatus(), {Daemons: map[string]supervisor.DaemonStatus{}}} {
		got, want := string(appendStatusTable(nil, st.List(), false)), tabwriterTable(st)
		if got != want {
			t.Errorf("appendStatusTable =\n%s\nwant (tabwriter)\n%s", got, want)
		}
	}
	table := string(appendStatusTable(nil, tableStatus().List(), false))
	if i, j := strings.Index(table, "selfplay@2 "), strings.Index(table, "selfplay@10 "); i < 0 || j < 0 || i > j {
		t.Errorf("instances not in their order (selfplay@2 before selfplay@10):\n%s", table)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestStatusTableColors(t *testing.T) {
	st := tableStatus()
	plain := string(appendStatusTable(nil, st.List(), false))
	colored := string(appendStatusTable(nil, st.List(), true))
	if strings.Contains(plain, "\x1b") {
		t.Errorf("table without color has escapes:\n%q", plain)
	}
	if got := ansi.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("coloured table without its escapes =\n%s\nwant the plain one\n%s", got, plain)
	}
	for state, color := range map[string]string{
		"running": "\x1b[32m", "done": "\x1b[32m", "restarting": "\x1b[33m",
		"import_failed": "\x1b[31m", "starting": "\x1b[33m",
	} {
		if !strings.Contains(colored, color+state+colorReset) {
			t.Errorf("state %s is not coloured %q:\n%q", state, color, colored)
		}
	}
	if strings.Contains(colored, "\x1b[32mSTATE") || strings.Contains(colored, "m stopped") {
		t.Errorf("the header or a stopped daemon is coloured:\n%q", colored)
	}
}

// A singleton's INFO names its holder, "none" while no node holds it, and
// a daemon that is not a singleton has no owner.
func TestStatusTableSingletonOwner(t *testing.T) {
	st := supervisor.Status{Daemons: map[string]supervisor.DaemonStatus{
		"trainer":   {State: supervisor.Stopped, Health: "none", Singleton: &supervisor.SingletonStatus{Owner: "n2", Fence: 41}},
		"scheduler": {State: supervisor.Restarting, BackoffS: 1.5, Health: "none", LastError: "exited unexpectedly: exit status 1", Singleton: &supervisor.SingletonStatus{}},
		"plain":     {State: supervisor.Running, PID: 7, UptimeS: 3, Health: "none"},
	}}
	for name, want := range map[string]string{
		"trainer":   "owner: n2",
		"scheduler": "owner: none; restart in 1.5s; exited unexpectedly: exit status 1",
		"plain":     "",
	} {
		if got := tableRow(name, st.Daemons[name])[len(tableColumns)-1]; got != want {
			t.Errorf("INFO of %s = %q, want %q", name, got, want)
		}
	}
}
