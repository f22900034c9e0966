package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlRestartCommand() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "restart daemons (and their running dependents)",
		UsageText: "ringsup ctl restart [--force] NAME...",
		Flags: []cli.Flag{&cli.BoolFlag{
			Name:  "force",
			Usage: "also reset restart_count and the error; needed for a failed or import_failed daemon",
		}},
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if err := ctlNeedNames(c); err != nil {
				return err
			}
			return client.Restart(c.Context, c.Bool("force"), c.Args().Slice()...)
		}),
	}
}
