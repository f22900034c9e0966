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

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/logfile"
	"github.com/ringrift/ringsup/sdnotify"
	"github.com/ringrift/ringsup/supervisor"
	"github.com/ringrift/ringsup/watch"
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
		&cli.BoolFlag{Name: "echo", Usage: "also print daemon output, prefixed with its name", DefaultText: "when stdout is a terminal, or ringsup is PID 1"},
	}
}

// runAction runs the supervisor in the foreground until SIGTERM or SIGINT
// (a second SIGINT kills every daemon at once). SIGHUP and changes of the
// config file reload it; SIGUSR1 reopens the log files.
func runAction(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unknown command %q (have: %s)", c.Args().First(), commandNames(c.App.Commands))
	}
	if _, err := newLogger(io.Discard, c.String("log-level"), c.String("log-format")); err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	// Before anything is started, and with the environment as it came:
	// the lean build runs a config with [cluster] or metrics as
	// ringsup-full.
	if err := handOverRun(cfg); err != nil {
		return err
	}
	// Before anything is started: the daemons must not inherit
	// NOTIFY_SOCKET and talk to systemd as if they were ringsup.
	notifier, notifyErr := sdnotify.FromEnv()
	defer notifier.Close()
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

	// The supervisor's own log goes to stderr and to <log_dir>/ringsup.log.
	ownLog := openOwnLog(c.App.ErrWriter, cfg)
	defer ownLog.Close()
	logger, _ := newLogger(io.MultiWriter(c.App.ErrWriter, ownLog), c.String("log-level"), c.String("log-format"))

	// Echo by default in a terminal, and as a container's PID 1, whose
	// standard output is what `docker logs` shows.
	var echo *logfile.Echo
	if out, isFile := c.App.Writer.(*os.File); c.Bool("echo") || (isFile && logfile.IsTerminal(out)) || os.Getpid() == 1 {
		echo = logfile.NewEcho(c.App.Writer, isFile && logfile.ColorEnabled(out))
		defer echo.Close()
	}

	if notifyErr != nil {
		logger.Warn("not telling the service manager", "error", notifyErr)
	}
	var manager supervisor.Manager
	if notifier != nil {
		manager = &notifyManager{n: notifier, log: logger.Named("sdnotify")}
	}
	userSockets := &control.UserSockets{} // for daemons that run as another user
	sup, err := supervisor.New(supervisor.Options{
		Config:           cfg,
		Profile:          c.String("profile"),
		Logger:           logger.Named("supervisor"),
		Echo:             echo,
		Manager:          manager,
		WatchdogInterval: notifier.WatchdogInterval(),
		DaemonSockets:    userSockets,
	})
	if err != nil {
		return err
	}
	// The socket before any daemon: a second supervisor stops here.
	srv, err := control.Listen(control.Options{
		Path:        cfg.Supervisor.Socket,
		Supervisor:  sup,
		LogDir:      cfg.Supervisor.LogDir,
		Logger:      logger.Named("control"),
		UserSockets: userSockets,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	if cfg.Cluster != nil {
		stop, err := startCluster(c, cfg, sup, logger.Named("cluster"))
		if err != nil {
			return err
		}
		defer stop()
	}

	if addr := cfg.Supervisor.Metrics; addr != "" {
		stop := startMetrics(c.Context, addr, sup, logger)
		defer stop()
	}

	reloads := make(chan struct{}, 1)
	var envs *envWatch
	if cfg.Supervisor.Watch {
		envs = newEnvWatch(reloads, logger.Named("watch"))
		envs.sync(envFiles(cfg))
	}
	go reloader(reloads, sup, cfg.Path, envs, logger.Named("reload"))
	if cfg.Supervisor.Watch {
		w, err := watch.New(cfg.Path, watch.Options{Logger: logger.Named("watch")})
		if err != nil {
			logger.Warn("cannot watch the config file; reload with SIGHUP or ringsup ctl reload", "error", err)
		} else {
			// The watch ends when the shutdown begins (reloads are
			// refused from then on), so that its inotify instance is
			// closed while the daemons stop: its last close waits for
			// the kernel to destroy its marks (an SRCU grace period,
			// 5-20 ms on a busy machine), which at the exit would delay
			// it.
			closed := make(chan struct{})
			defer func() { <-closed }()
			go func() {
				defer close(closed)
				defer w.Close()
				for {
					select {
					case <-w.Changes():
						logger.Debug("config file changed; reloading", "config", cfg.Path)
						requestReload(reloads)
					case <-sup.ShuttingDown():
						return
					}
				}
			}()
		}
	}

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(signals)
	go handleSignals(signals, sup, reloads, ownLog, logger)

	logger.Info("ringsup running", "config", cfg.Path, "pid", os.Getpid())
	return sup.Run(c.Context)
}

// openOwnLog returns the writer of <log_dir>/ringsup.log, creating the log
// directory. If it cannot, the log goes to stderr only.
func openOwnLog(stderr io.Writer, cfg *config.Config) *logfile.Writer {
	if err := os.MkdirAll(cfg.Supervisor.LogDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "ringsup: cannot create log dir: %v\n", err)
	}
	w, err := logfile.Open(filepath.Join(cfg.Supervisor.LogDir, "ringsup.log"), logfile.Options{
		MaxSize:  cfg.Supervisor.LogMaxSize,
		MaxFiles: cfg.Supervisor.LogMaxFiles,
		OnError: func(err error) {
			fmt.Fprintf(stderr, "ringsup: cannot write ringsup.log: %v\n", err)
		},
	})
	if err != nil {
		panic(err) // only invalid options, which config rules out
	}
	return w
}

// requestReload asks the reloader for a reload; requests that arrive while
// one waits are the same request.
func requestReload(reloads chan<- struct{}) {
	select {
	case reloads <- struct{}{}:
	default:
	}
}

// reloader applies reload requests one at a time, off the signal handler,
// since a reload may wait for a cascade to end. After a reload it watches
// the env files of the config now running (envs may be nil: no watching).
func reloader(reloads <-chan struct{}, sup *supervisor.Supervisor, path string, envs *envWatch, log hclog.Logger) {
	if envs != nil {
		defer envs.close()
	}
	stopping := sup.ShuttingDown()
	for {
		select {
		case <-stopping:
			// Reloads are refused from now on: the env files' watches
			// end while the daemons stop, as the config file's does.
			if envs != nil {
				envs.close()
			}
			stopping = nil
		case <-sup.Done():
			return
		case <-reloads:
			// The supervisor logs the outcome, CONFIG_RELOADED or
			// CONFIG_RELOAD_FAILED, as one line.
			if _, err := sup.Reload(); err != nil {
				log.Debug("reload failed; the running config is unchanged", "error", err.Error())
				continue
			}
			if envs != nil {
				// The file as applied, read again: a list of env files
				// is small next to a reload.
				if cfg, err := config.Load(path); err == nil {
					envs.sync(envFiles(cfg))
				}
			}
		}
	}
}

// handleSignals turns the first SIGTERM or SIGINT into a graceful shutdown
// and a second SIGINT into killing every daemon at once; SIGHUP into a
// reload and SIGUSR1 into reopening the log files. It returns when the
// supervisor is done.
func handleSignals(signals <-chan os.Signal, sup *supervisor.Supervisor, reloads chan<- struct{}, ownLog *logfile.Writer, log hclog.Logger) {
	stopping := false
	for {
		select {
		case <-sup.Done():
			return
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
				log.Debug("SIGHUP: reloading")
				requestReload(reloads)
			case sig == syscall.SIGUSR1:
				log.Info("SIGUSR1: reopening log files")
				ownLog.Reopen()
				if err := sup.ReopenLogs(); err != nil {
					log.Error("cannot reopen log files", "error", err)
				}
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
