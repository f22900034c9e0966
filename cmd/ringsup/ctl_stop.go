package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlStopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop daemons, their running dependents first, and wait until each is down; they stay stopped until started",
		UsageText: "ringsup ctl stop [--no-block] [--timeout D] NAME...",
		Flags:     waitFlags(),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			names := c.Args().Slice()
			if c.Bool("no-block") {
				return client.Stop(c.Context, names...)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.StopWait(ctx, fn, names...)
			})
		}),
	}
}
