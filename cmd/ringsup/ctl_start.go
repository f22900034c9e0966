package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlStartCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start daemons, their dependencies first, and wait until each is running and ready (or done, or gave up)",
		UsageText: "ringsup ctl start [--no-block] [--timeout D] NAME...",
		Flags:     waitFlags(),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			names := c.Args().Slice()
			if c.Bool("no-block") {
				return client.Start(c.Context, names...)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.StartWait(ctx, fn, names...)
			})
		}),
	}
}
