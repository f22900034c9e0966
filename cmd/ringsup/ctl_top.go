package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/top"
)

func ctlTopCommand() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "a live full-screen view of the daemons, steered from the keyboard (? in it lists the keys)",
		UsageText: "ringsup ctl top",
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.NArg() > 0 {
				return fmt.Errorf("top takes no names (have %q): / in the view filters by name", c.Args().First())
			}
			in, _ := c.App.Reader.(*os.File)
			out, _ := c.App.Writer.(*os.File)
			if in == nil || out == nil {
				return top.ErrNoTerminal
			}
			err := top.Run(c.Context, top.Options{Source: top.Local{Client: client}, Where: client.Path}, in, out)
			if errors.Is(err, top.ErrShutdown) {
				fmt.Fprintf(c.App.ErrWriter, "ringsup ctl top: %v\n", err)
				return nil
			}
			return err
		}),
	}
}
