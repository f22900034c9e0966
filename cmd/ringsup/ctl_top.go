//go:build !ringsup_lean

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/top"
)

// ctlTopAction runs the view over the supervisor client reaches.
func ctlTopAction(c *cli.Context, client *control.Client) error {
	return ctlTop(c, top.Options{Source: top.Local{Client: client}, Where: client.Path})
}

// ctlClusterTop runs the view over every node of the cluster cli reaches.
func ctlClusterTop(c *cli.Context, cli *clientv3.Client, keys cluster.Keys) error {
	src := top.Cluster{Client: cli, Keys: keys, Timeout: c.Duration("cluster-timeout")}
	return ctlTop(c, top.Options{Source: src, Where: "etcd " + strings.Join(cli.Endpoints(), ",") + " " + keys.Prefix})
}

// ctlTop runs the view over opt.Source on the command's terminal.
func ctlTop(c *cli.Context, opt top.Options) error {
	if c.NArg() > 0 {
		return fmt.Errorf("top takes no names (have %q): / in the view filters by name", c.Args().First())
	}
	in, _ := c.App.Reader.(*os.File)
	out, _ := c.App.Writer.(*os.File)
	if in == nil || out == nil {
		return top.ErrNoTerminal
	}
	err := top.Run(c.Context, opt, in, out)
	if errors.Is(err, top.ErrShutdown) {
		fmt.Fprintf(c.App.ErrWriter, "ringsup ctl top: %v\n", err)
		return nil
	}
	return err
}
