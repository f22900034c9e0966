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
		UsageText: "ringsup ctl events [--type TYPE ...] [--daemon NAME ...]\n   ringsup ctl --cluster events [--node NODE] [--since REV] [--type TYPE ...] [--daemon NAME ...]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "type", Usage: "only events of `TYPE` (repeatable)"},
			&cli.StringSliceFlag{Name: "daemon", Usage: "only events of daemon `NAME` (repeatable)"},
			&cli.StringFlag{Name: "node", Usage: "with --cluster: only the events of `NODE`"},
			&cli.Int64Flag{Name: "since", Usage: "with --cluster: from etcd revision `REV` on, not from now"},
		},
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			w := c.App.Writer
			return client.EventsFiltered(c.Context, ctlEventFilter(c), func(e json.RawMessage) error {
				_, err := w.Write(append(e, '\n'))
				return err
			})
		}),
	}
}

// ctlEventFilter is the filter of ctl events' --type and --daemon. With
// --cluster it is applied here, to each node's events as they come: the
// types are not checked against a node's [events].
func ctlEventFilter(c *cli.Context) control.EventFilter {
	return control.EventFilter{Types: c.StringSlice("type"), Daemons: c.StringSlice("daemon")}
}
