package main

import "github.com/urfave/cli/v2"

func ctlTopCommand() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "a live full-screen view of the daemons, steered from the keyboard (? in it lists the keys); with --cluster, of every node's",
		UsageText: "ringsup ctl top\n   ringsup ctl --cluster [--etcd ENDPOINTS] [--prefix PREFIX] top",
		Action:    ctlAction(ctlTopAction),
	}
}
