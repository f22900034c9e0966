package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
)

// ctlCommands are the subcommands of ctl, in the order help lists them.
func ctlCommands() []*cli.Command {
	return []*cli.Command{
		ctlStatusCommand(),
		ctlStartCommand(),
		ctlStopCommand(),
		ctlRestartCommand(),
		ctlLogsCommand(),
		ctlEventsCommand(),
		ctlEmitCommand(),
		ctlTopCommand(),
		ctlReloadCommand(),
		ctlProfileCommand(),
		ctlScaleCommand(),
		ctlShutdownCommand(),
	}
}

func ctlCommand() *cli.Command {
	return &cli.Command{
		Name:      "ctl",
		Usage:     "control a running supervisor through its socket",
		UsageText: "ringsup ctl [--socket PATH] [--config FILE] status|start|stop|restart|logs|events|emit|top|reload|profile|scale|shutdown ...\n   ringsup ctl --cluster [--etcd ENDPOINTS] status|events|start|stop|restart|top ...",
		Flags: append([]cli.Flag{
			&cli.StringFlag{
				Name:    "socket",
				Usage:   "control socket `PATH` (default: [supervisor] socket of the config, or ringsup.sock beside it)",
				EnvVars: []string{"RINGSUP_SOCKET"},
			},
			configFlag(),
		}, ctlClusterFlags()...),
		HideHelpCommand: true,
		Subcommands:     ctlCommands(),
		// Reached only when no subcommand matched.
		Action: func(c *cli.Context) error {
			if !c.Args().Present() {
				return ctlFail(c, errors.New("missing command (have: "+ctlNames()+")"))
			}
			return ctlFail(c, fmt.Errorf("unknown command %q (have: %s)", c.Args().First(), ctlNames()))
		},
	}
}

func ctlNames() string { return commandNames(ctlCommands()) }

// commandNames lists the names of cmds, as in "(have: ...)".
func commandNames(cmds []*cli.Command) string {
	var names []string
	for _, cmd := range cmds {
		if !cmd.Hidden {
			names = append(names, cmd.Name)
		}
	}
	return strings.Join(names, ", ")
}

// ctlClient returns a client for the socket found as SPEC.md says:
// --socket, then RINGSUP_SOCKET, then the config's [supervisor] socket,
// then ringsup.sock beside the config file.
func ctlClient(c *cli.Context) (*control.Client, error) {
	path, err := ctlSocket(c)
	if err != nil {
		return nil, err
	}
	return &control.Client{Path: path}, nil
}

func ctlSocket(c *cli.Context) (string, error) {
	if sock := c.String("socket"); sock != "" {
		path, err := filepath.Abs(sock)
		if err != nil {
			return "", fmt.Errorf("cannot use socket path: %w", err)
		}
		return path, nil
	}
	file := c.String("config")
	// Only the socket: not Load, which decodes and checks every daemon.
	sock, err := config.SocketPath(file)
	if err == nil {
		return sock, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		abs, aerr := filepath.Abs(file)
		if aerr != nil {
			return "", fmt.Errorf("cannot use config path: %w", aerr)
		}
		return filepath.Join(filepath.Dir(abs), "ringsup.sock"), nil
	}
	// The config is invalid (as it is when `ctl reload` is about to say
	// so): the default socket beside it, if a supervisor made one there,
	// is the best guess.
	if abs, aerr := filepath.Abs(file); aerr == nil {
		def := filepath.Join(filepath.Dir(abs), "ringsup.sock")
		if fi, serr := os.Stat(def); serr == nil && fi.Mode()&fs.ModeSocket != 0 {
			return def, nil
		}
	}
	return "", configSocketError(err)
}

// configSocketError says in one line that the socket is in a config that
// err, Load's, says cannot be read.
func configSocketError(err error) error {
	var list config.ErrorList
	if errors.As(err, &list) {
		msg := list[0].Error()
		if len(list) > 1 {
			msg += fmt.Sprintf(" (and %d more errors)", len(list)-1)
		}
		err = errors.New(msg)
	}
	return fmt.Errorf("cannot find the socket in the config (give --socket): %w", err)
}

// ctlNotListening is err, a client's error, unless no supervisor listens
// on a socket found in a config that does not load: ctlSocket reads only
// the socket, so that a broken config is a better answer than "no
// supervisor is listening", then.
func ctlNotListening(c *cli.Context, err error) error {
	var nl *control.NotListeningError
	if !errors.As(err, &nl) || c.String("socket") != "" {
		return err
	}
	if _, lerr := config.Load(c.String("config")); lerr != nil && !errors.Is(lerr, fs.ErrNotExist) {
		return configSocketError(lerr)
	}
	return err
}

// ctlFail reports err on stderr as one line, `ringsup ctl: ...`, and returns
// it as already reported. A nil err is returned as is.
func ctlFail(c *cli.Context, err error) error {
	if err == nil {
		return nil
	}
	fmt.Fprintf(c.App.ErrWriter, "ringsup ctl: %v\n", err)
	return &exitError{err}
}

// ctlAction wraps a ctl action: its error becomes one line on stderr.
func ctlAction(action func(*cli.Context, *control.Client) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		// Flags after a name would be taken for names; say where they go.
		for _, arg := range c.Args().Slice() {
			if strings.HasPrefix(arg, "-") {
				return ctlFail(c, fmt.Errorf("flag %s after a name: flags go first (%s)", arg, c.Command.UsageText))
			}
		}
		if c.Bool("cluster") {
			return ctlFail(c, ctlClusterAction(c))
		}
		for _, flag := range []string{"node", "since"} {
			if c.IsSet(flag) {
				return ctlFail(c, fmt.Errorf("--%s needs --cluster (ringsup ctl --cluster %s --%s ...)", flag, c.Command.Name, flag))
			}
		}
		client, err := ctlClient(c)
		if err != nil {
			return ctlFail(c, err)
		}
		return ctlFail(c, ctlNotListening(c, action(c, client)))
	}
}

// ctlNeedNames checks that a command got at least one daemon name.
func ctlNeedNames(c *cli.Context) error {
	if !c.Args().Present() {
		return fmt.Errorf("%s needs at least one daemon name", c.Command.Name)
	}
	return nil
}
