package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
)

func ctlLogsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the last lines of a daemon's output; -f follows it",
		UsageText: "ringsup ctl logs [-f] [-n N] NAME",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: control.DefaultLogLines, Usage: "print the last `N` lines"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing what the daemon writes, until interrupted"},
		},
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() != 1 {
				return errors.New("logs needs exactly one daemon name")
			}
			n := c.Int("lines")
			if n < 0 {
				return fmt.Errorf("invalid -n %d: want 0 or more lines", n)
			}
			return client.Logs(c.Context, c.Args().First(), n, c.Bool("follow"), c.App.Writer)
		}),
	}
}
