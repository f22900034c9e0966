package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlRestartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "restart daemons (and their running dependents) and wait until each is running and ready again",
		UsageText: "ringsup ctl restart [--force] [--no-block] [--timeout D] NAME...",
		Flags: append([]cli.Flag{&cli.BoolFlag{
			Name:  "force",
			Usage: "also reset restart_count and the error; needed for a failed or import_failed daemon",
		}}, waitFlags()...),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			names, force := c.Args().Slice(), c.Bool("force")
			if c.Bool("no-block") {
				return client.Restart(c.Context, force, names...)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.RestartWait(ctx, force, fn, names...)
			})
		}),
	}
}
