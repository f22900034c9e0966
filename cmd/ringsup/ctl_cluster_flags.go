package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
)

// ctlClusterFlags are the flags of ctl that reach the cluster through etcd
// instead of the local socket.
func ctlClusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "cluster", Usage: "talk to every node through etcd: status, events, start, stop, restart, top"},
		&cli.StringFlag{Name: "etcd", Usage: "etcd `ENDPOINTS`, comma-separated (default: [cluster] endpoints of the config)", EnvVars: []string{"RINGSUP_ETCD"}},
		&cli.StringFlag{Name: "prefix", Usage: "the cluster's key `PREFIX` (default: [cluster] prefix, or " + config.DefaultClusterPrefix + ")"},
		&cli.DurationFlag{Name: "cluster-timeout", Value: 10 * time.Second, Usage: "how long --cluster start, stop and restart (and their keys in top) wait for the node's answer"},
	}
}
