package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlScaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "scale",
		Usage:     "run N instances of a daemon with an instances key: start the new ones or stop the highest-numbered, print what changed and wait until those instances settle",
		UsageText: "ringsup ctl scale [--no-block] [--timeout D] NAME N",
		Flags:     waitFlags(),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() != 2 {
				return errors.New("scale needs a daemon name and a number of instances")
			}
			n, err := strconv.Atoi(c.Args().Get(1))
			if err != nil || n < 1 {
				return fmt.Errorf("invalid number of instances %q: want a whole number from 1", c.Args().Get(1))
			}
			name := c.Args().First()
			if c.Bool("no-block") {
				sum, err := client.Scale(c.Context, name, n)
				if err != nil {
					return err
				}
				return writeReloadSummary(c.App.Writer, sum)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.ScaleWait(ctx, name, n, func(sum supervisor.ReloadSummary) error {
					return writeReloadSummary(c.App.Writer, sum)
				}, fn)
			})
		}),
	}
}
