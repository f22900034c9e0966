package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlProfileCommand() *cli.Command {
	return &cli.Command{
		Name:      "profile",
		Usage:     "switch the active profile: stop what leaves it, start what joins it, and wait until they settle",
		UsageText: "ringsup ctl profile [--no-block] [--timeout D] NAME",
		Flags:     waitFlags(),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() != 1 {
				return errors.New("profile needs exactly one profile name")
			}
			profile := c.Args().First()
			if c.Bool("no-block") {
				return client.SetProfile(c.Context, profile)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.SetProfileWait(ctx, profile, fn)
			})
		}),
	}
}
