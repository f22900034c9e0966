package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show the daemons' state, as a table or JSON",
		UsageText: "ringsup ctl status [--json] [NAME...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the JSON of SPEC.md"}},
		Action:    ctlAction(ctlStatusAction),
	}
}

func ctlStatusAction(c *cli.Context, client *control.Client) error {
	if c.Bool("json") {
		// The supervisor sends the text to print: nothing to decode.
		return client.StatusText(c.Context, c.App.Writer, c.Args().Slice()...)
	}
	raw, err := client.StatusJSON(c.Context, c.Args().Slice()...)
	if err != nil {
		return err
	}
	var st supervisor.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("cannot decode the status: %w", err)
	}
	return writeStatusTable(c.App.Writer, st)
}

// writeStatusTable prints st as an aligned table, one daemon a line, sorted
// by name. STATE is "done" for a oneshot daemon that completed. INFO is the
// last error, or else how the daemon last exited, after the time left
// before a pending restart.
func writeStatusTable(w io.Writer, st supervisor.Status) error {
	// tabwriter writes cell by cell: one write(2) for the table, not
	// thousands.
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tINFO")
	names := st.Names()
	slices.SortFunc(names, config.CompareNames) // selfplay@2 before selfplay@10
	for _, name := range names {
		d := st.Daemons[name]
		pid, uptime := "-", "-"
		if d.PID != 0 {
			pid = strconv.Itoa(d.PID)
		}
		if d.State == supervisor.Running {
			uptime = formatUptime(time.Duration(d.UptimeS * float64(time.Second)))
		}
		info := d.LastError
		if info == "" && d.LastExit != nil {
			if d.LastExit.Signal != "" {
				info = "last exit: " + d.LastExit.Signal
			} else {
				info = fmt.Sprintf("last exit: code %d", d.LastExit.Code)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, state, pid, uptime, d.RestartCount, d.Health, info)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// formatUptime writes d with its two largest units: 42s, 5m03s, 2h07m,
// 3d04h.
func formatUptime(d time.Duration) string { return control.FormatUptime(d) }
