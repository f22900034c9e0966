//go:build ringsup_lean

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

// The lean build (tag ringsup_lean, made by scripts/build.sh as the
// `ringsup` users type) leaves out cluster mode, the metrics exporter,
// `ctl top` and TLS for https:// health checks: the etcd client, gRPC,
// protobuf, client_golang, Bubble Tea and crypto/tls. Go initialises
// every package a binary links before main runs, whatever the command, so
// leaving them out is what makes each `ringsup ctl` start quickly. What needs them runs as ringsup-full, the build
// without the tag, installed beside this one: the process execs it with
// the same arguments and environment and keeps its pid.

// fullName is the file name of the full build, looked for beside this
// binary.
const fullName = "ringsup-full"

// handOverRun runs a config with [cluster], [supervisor] metrics or an
// https:// health check (this build has no TLS: see health.TLS) as
// ringsup-full; any other config runs here, and handOverRun returns nil.
func handOverRun(cfg *config.Config) error {
	switch {
	case cfg.Cluster != nil:
		return execFull("a config with [cluster]")
	case cfg.Supervisor.Metrics != "":
		return execFull("a config with [supervisor] metrics")
	case cfg.HTTPSCheck() != "":
		return execFull("a config with an https:// health check")
	}
	return nil
}

// ctlClusterAction runs `ctl --cluster ...` as ringsup-full.
func ctlClusterAction(*cli.Context) error { return execFull("ctl --cluster") }

// ctlTopAction runs `ctl top` as ringsup-full.
func ctlTopAction(*cli.Context, *control.Client) error { return execFull("ctl top") }

// startCluster and startMetrics are not reached: handOverRun has handed
// such a config over before anything started.
func startCluster(*cli.Context, *config.Config, *supervisor.Supervisor, hclog.Logger) (func(), error) {
	return nil, errors.New("cannot join the cluster: this build has no cluster mode (run " + fullName + ")")
}

func startMetrics(_ context.Context, _ string, _ *supervisor.Supervisor, logger hclog.Logger) func() {
	logger.Error("metrics are not served: this build has no metrics exporter (run " + fullName + ")")
	return func() {}
}

// execFull replaces this process with ringsup-full, found beside this
// binary, with the same arguments and environment; what names, for the
// error, what needed it. It returns only with an error.
func execFull(what string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot run %s: cannot find this binary to find %s beside it: %w", what, fullName, err)
	}
	full := filepath.Join(filepath.Dir(self), fullName)
	err = syscall.Exec(full, os.Args, os.Environ())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot run %s: this ringsup is the lean build, which runs it as %s, and there is none at %s: install %s beside %s (scripts/build.sh builds both)", what, fullName, full, fullName, self)
	}
	return fmt.Errorf("cannot run %s as %s: %w", what, full, err)
}
