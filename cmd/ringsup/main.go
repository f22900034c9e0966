// Command ringsup is a process supervisor for a cluster node: it runs the
// daemons listed in one TOML file as child processes, in dependency order,
// restarts them with backoff, and stops them dependents first.
//
// Usage:
//
//	ringsup [--config FILE] [--profile NAME] [flags]   run in the foreground
//	ringsup check [--config FILE] [--profile NAME]      validate; print the start order
//	ringsup graph [--config FILE] [--profile NAME]      dependency graph as Graphviz DOT
//	ringsup ctl [--socket PATH] COMMAND ...            control a running supervisor
//	ringsup completion bash|zsh|fish                    shell completion script
//	ringsup version
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ringrift/ringsup/guard"
	"github.com/ringrift/ringsup/procexec"
)

func main() {
	procexec.MaybeTrampoline()
	guard.MaybeRun()
	err := run(context.Background(), os.Args, os.Stdout, os.Stderr)
	if err != nil {
		var quiet *exitError
		if !errors.As(err, &quiet) {
			fmt.Fprintf(os.Stderr, "ringsup: %v\n", err)
		}
		os.Exit(1)
	}
}

// exitError is an error already reported on stderr: main only exits 1.
type exitError struct{ err error }

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
