package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/logfile"
)

func ctlStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show the daemons' state, as a table or JSON",
		UsageText: "ringsup ctl status [--json] [NAME...]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the JSON of SPEC.md"}},
		Action:    ctlAction(ctlStatusAction),
	}
}

// ctlStatusAction prints what the supervisor sends, the JSON or the table,
// without decoding it. The table's STATE column is coloured when stdout is
// a terminal and NO_COLOR is not set.
func ctlStatusAction(c *cli.Context, client *control.Client) error {
	if c.Bool("json") {
		return client.StatusText(c.Context, c.App.Writer, c.Args().Slice()...)
	}
	out, isFile := c.App.Writer.(*os.File)
	color := isFile && logfile.ColorEnabled(out)
	return client.StatusTable(c.Context, c.App.Writer, color, c.Args().Slice()...)
}
