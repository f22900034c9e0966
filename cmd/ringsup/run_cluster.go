//go:build !ringsup_lean

package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// startCluster makes the node one of the cluster of cfg's [cluster]
// table: it registers (a name another live node holds is an error, and
// nothing starts), then runs the node beside the supervisor. etcd being
// unreachable is not an error: the node registers once it answers. stop
// ends the node once the supervisor is done: it records the node down and
// revokes its lease.
func startCluster(c *cli.Context, cfg *config.Config, sup *supervisor.Supervisor, log hclog.Logger) (stop func(), err error) {
	profile, _, err := cfg.Select(c.String("profile"))
	if err != nil {
		return nil, err
	}
	node, err := cluster.New(cluster.Options{
		Cluster:    cfg.Cluster,
		Supervisor: sup,
		ConfigPath: cfg.Path,
		Profile:    profile,
		Version:    version(),
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	var taken *cluster.TakenError
	switch err := node.Register(c.Context); {
	case errors.As(err, &taken):
		node.Close()
		return nil, err
	case err != nil:
		// The node said so, and registers once etcd answers.
	default:
		log.Info("node registered", "node", cfg.Cluster.Node, "prefix", cfg.Cluster.Prefix, "lease", int64(node.Lease().ID))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
