package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlProfileCommand() *cli.Command {
	return &cli.Command{
		Name:      "profile",
		Usage:     "switch the active profile: stop what leaves it, start what joins it",
		UsageText: "ringsup ctl profile NAME",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() != 1 {
				return errors.New("profile needs exactly one profile name")
			}
			return client.SetProfile(c.Context, c.Args().First())
		}),
	}
}
