package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
)

// run runs the command line args (args[0] is the program name) and returns
// its error; stdout and stderr receive the output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newApp(stdout, stderr).RunContext(ctx, args)
}

// newApp is the command line: every command and flag, which help, the
// completion and the man page are made from.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "ringsup",
		Usage:                "supervise the daemons of a node",
		UsageText:            "ringsup [--config FILE] [--profile NAME] [flags]\nringsup check|graph|ctl|completion|version ...",
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		// Errors go back to main; cli must not exit the process itself.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          runFlags(),
		Action:         runAction,
		Commands: []*cli.Command{
			checkCommand(),
			graphCommand(),
			versionCommand(),
			ctlCommand(),
			completionCommand(),
			completeCommand(),
			manCommand(),
		},
	}
}

// configFlag and profileFlag are shared by every command that reads the
// config.
func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "config `FILE`",
		Value:   "ringsup.toml",
		EnvVars: []string{"RINGSUP_CONFIG"},
	}
}

func profileFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "profile",
		Aliases: []string{"p"},
		Usage:   "profile `NAME` to run (default: default_profile, or every daemon)",
		EnvVars: []string{"RINGSUP_PROFILE"},
	}
}

// loadConfig loads the --config file. Config errors are written to stderr,
// one per line, and returned as an *exitError.
func loadConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"))
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(c.App.ErrWriter, e)
		}
		return nil, &exitError{err}
	}
	return cfg, err
}

// selectProfile resolves --profile against cfg and returns the active
// profile and the daemons it runs, in start order.
func selectProfile(c *cli.Context, cfg *config.Config) (string, []string, error) {
	return cfg.Select(c.String("profile"))
}
