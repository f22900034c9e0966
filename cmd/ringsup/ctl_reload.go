package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func ctlReloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "reload",
		Usage:     "reload the config file, as SIGHUP does, print what changed and wait until those daemons settle; an invalid file changes nothing",
		UsageText: "ringsup ctl reload [--no-block] [--timeout D]",
		Flags:     waitFlags(),
		Action: ctlAction(func(c *cli.Context, client *control.Client) error {
			if c.Bool("no-block") {
				sum, err := client.Reload(c.Context)
				if err != nil {
					return err
				}
				return writeReloadSummary(c.App.Writer, sum)
			}
			return ctlWait(c, func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error) {
				return client.ReloadWait(ctx, func(sum supervisor.ReloadSummary) error {
					return writeReloadSummary(c.App.Writer, sum)
				}, fn)
			})
		}),
	}
}

// writeReloadSummary prints one line per kind of change.
func writeReloadSummary(w io.Writer, sum supervisor.ReloadSummary) error {
	list := func(names []string) string {
		if len(names) == 0 {
			return "-"
		}
		return strings.Join(names, ", ")
	}
	_, err := fmt.Fprintf(w, "added:     %s\nremoved:   %s\nrestarted: %s\nupdated:   %s\n",
		list(sum.Added), list(sum.Removed), list(sum.Restarted), list(sum.Updated))
	return err
}
