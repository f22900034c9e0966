package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlEventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print events as they happen, one JSON object a line, until interrupted",
		UsageText: "ringsup ctl events [--type TYPE ...] [--daemon NAME ...]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "type", Usage: "only events of `TYPE` (repeatable)"},
			&cli.StringSliceFlag{Name: "daemon", Usage: "only events of daemon `NAME` (repeatable)"},
		},
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			w := c.App.Writer
			f := control.EventFilter{Types: c.StringSlice("type"), Daemons: c.StringSlice("daemon")}
			return client.EventsFiltered(c.Context, f, func(e json.RawMessage) error {
				_, err := w.Write(append(e, '\n'))
				return err
			})
		}),
	}
}
