package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlStartCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start daemons, their dependencies first",
		UsageText: "ringsup ctl start NAME...",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			return client.Start(c.Context, c.Args().Slice()...)
		}),
	}
}
