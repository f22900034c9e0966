package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlScaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "scale",
		Usage:     "run N instances of a daemon with an instances key: start the new ones or stop the highest-numbered, and print what changed",
		UsageText: "ringsup ctl scale NAME N",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() != 2 {
				return errors.New("scale needs a daemon name and a number of instances")
			}
			n, err := strconv.Atoi(c.Args().Get(1))
			if err != nil || n < 1 {
				return fmt.Errorf("invalid number of instances %q: want a whole number from 1", c.Args().Get(1))
			}
			sum, err := client.Scale(c.Context, c.Args().First(), n)
			if err != nil {
				return err
			}
			return writeReloadSummary(c.App.Writer, sum)
		}),
	}
}
