package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlStopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop daemons, their running dependents first; they stay stopped until started",
		UsageText: "ringsup ctl stop NAME...",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			return client.Stop(c.Context, c.Args().Slice()...)
		}),
	}
}
