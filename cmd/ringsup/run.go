package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

func runFlags() []cli.Flag {
	return []cli.Flag{
		configFlag(),
		profileFlag(),
		&cli.StringFlag{
			Name:    "socket",
			Usage:   "control socket `PATH` (default: [supervisor] socket, or ringsup.sock beside the config)",
			EnvVars: []string{"RINGSUP_SOCKET"},
		},
		&cli.StringFlag{Name: "log-dir", Usage: "`DIR` for daemon logs (default: [supervisor] log_dir)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "trace, debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
	}
}

// runAction runs the supervisor in the foreground until SIGTERM or SIGINT
// (a second SIGINT kills every daemon at once).
func runAction(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unknown command %q (have: check, graph, version)", c.Args().First())
	}
	logger, err := newLogger(c.App.ErrWriter, c.String("log-level"), c.String("log-format"))
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	if dir := c.String("log-dir"); dir != "" {
		if cfg.Supervisor.LogDir, err = filepath.Abs(dir); err != nil {
			return fmt.Errorf("cannot use log dir: %w", err)
		}
	}
	if sock := c.String("socket"); sock != "" {
		if cfg.Supervisor.Socket, err = filepath.Abs(sock); err != nil {
			return fmt.Errorf("cannot use socket path: %w", err)
		}
	}
	sup, err := supervisor.New(supervisor.Options{
		Config:  cfg,
		Profile: c.String("profile"),
		Logger:  logger.Named("supervisor"),
	})
	if err != nil {
		return err
	}
	// The socket before any daemon: a second supervisor stops here.
	srv, err := control.Listen(control.Options{
		Path:       cfg.Supervisor.Socket,
		Supervisor: sup,
		LogDir:     cfg.Supervisor.LogDir,
		Logger:     logger.Named("control"),
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	go handleSignals(signals, sup, logger)

	logger.Info("ringsup running", "config", cfg.Path, "pid", os.Getpid())
	return sup.Run(c.Context)
}

// handleSignals turns the first SIGTERM or SIGINT into a graceful shutdown
// and a second SIGINT into killing every daemon at once. It returns when the
// supervisor is done.
func handleSignals(signals <-chan os.Signal, sup *supervisor.Supervisor, log hclog.Logger) {
	stopping := false
	for {
		select {
		case <-sup.Done():
			return
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
				log.Warn("SIGHUP: reloading is not supported by this version; restart ringsup to apply config changes")
			case sig == syscall.SIGINT && stopping:
				log.Warn("second SIGINT: killing every daemon")
				_ = sup.Kill()
			default:
				log.Info("shutting down", "signal", sig.String())
				stopping = true
				_ = sup.Shutdown()
			}
		}
	}
}

// newLogger builds the root logger every package logs through.
func newLogger(w io.Writer, level, format string) (hclog.Logger, error) {
	lvl := hclog.LevelFromString(level)
	if lvl == hclog.NoLevel {
		return nil, fmt.Errorf("invalid --log-level %q (have: trace, debug, info, warn, error)", level)
	}
	if format != "text" && format != "json" {
		return nil, fmt.Errorf("invalid --log-format %q (have: text, json)", format)
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       "ringsup",
		Level:      lvl,
		Output:     w,
		JSONFormat: format == "json",
	}), nil
}
