package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlEventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print lifecycle events as they happen, one JSON object a line, until interrupted",
		UsageText: "ringsup ctl events\n   ringsup ctl --cluster events [--node NODE] [--since REV]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "node", Usage: "with --cluster: only the events of `NODE`"},
			&cli.Int64Flag{Name: "since", Usage: "with --cluster: from etcd revision `REV` on, not from now"},
		},
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			w := c.App.Writer
			return client.Events(c.Context, func(e json.RawMessage) error {
				_, err := w.Write(append(e, '\n'))
				return err
			})
		}),
	}
}
