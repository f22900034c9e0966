//go:build !ringsup_lean

package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/metrics"
	"github.com/ringrift/ringsup/supervisor"
)

// startMetrics serves sup's metrics on addr until ctx is done or stop is
// called; a failure to serve is logged.
func startMetrics(ctx context.Context, addr string, sup *supervisor.Supervisor, logger hclog.Logger) (stop func()) {
	exp := metrics.New(sup, metrics.Options{Logger: logger.Named("metrics")})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		if err := exp.Serve(ctx, addr); err != nil {
			logger.Error("metrics are not served", "error", err)
		}
	}()
	return func() {
		cancel()
		exp.Close()
	}
}
