package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/supervisor"
)

// waitFlags are the flags of the ctl commands that wait, like systemctl,
// until the daemons they touch settle.
func waitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{
			Name:  "no-block",
			Usage: "return as soon as the supervisor has taken the request, without waiting",
		},
		&cli.DurationFlag{
			Name:        "timeout",
			Usage:       "give up waiting after `D` (such as 30s or 2m) and exit 1 naming the daemons still pending",
			DefaultText: "no limit",
		},
	}
}

// waitFunc starts a waiting operation with ctx and fn, and returns the
// names it waits for.
type waitFunc func(ctx context.Context, fn func(supervisor.Settled)) ([]string, error)

// ctlWait runs op, printing one line per daemon as it settles
// ("NAME: running", "NAME: failed: last error"), and fails unless every
// daemon reached its goal. --timeout bounds the wait.
func ctlWait(c *cli.Context, op waitFunc) error {
	ctx := c.Context
	if d := c.Duration("timeout"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var settled, failed []string
	waiting, err := op(ctx, func(st supervisor.Settled) {
		settled = append(settled, st.Daemon)
		line := st.Daemon + ": " + st.State
		if st.Error != "" {
			line += ": " + st.Error
		}
		fmt.Fprintln(c.App.Writer, line)
		if !st.OK {
			failed = append(failed, fmt.Sprintf("%s (%s)", st.Daemon, st.State))
		}
	})
	pending := slices.DeleteFunc(slices.Clone(waiting), func(n string) bool { return slices.Contains(settled, n) })
	switch {
	case errors.Is(err, context.DeadlineExceeded) && c.Context.Err() == nil:
		return fmt.Errorf("timed out after %v; still pending: %s", c.Duration("timeout"), strings.Join(pending, ", "))
	case err != nil && len(pending) > 0 && waiting != nil:
		return fmt.Errorf("%w; still pending: %s", err, strings.Join(pending, ", "))
	case err != nil:
		return err
	case len(failed) > 0:
		return fmt.Errorf("%d of %d did not reach their goal: %s", len(failed), len(waiting), strings.Join(failed, ", "))
	}
	return nil
}
