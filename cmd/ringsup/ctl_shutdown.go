package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlShutdownCommand() *cli.Command {
	return &cli.Command{
		Name:      "shutdown",
		Usage:     "stop every daemon, dependents first, and wait until the supervisor has exited",
		UsageText: "ringsup ctl shutdown",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			return client.Shutdown(c.Context)
		}),
	}
}
