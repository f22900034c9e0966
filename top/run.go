package top

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"
)

// fps is how often at most the screen is redrawn: often enough that keys
// answer at once, and a fraction of the default 60, which would wake the
// view 60 times a second for nothing.
const fps = 20

// ErrNoTerminal is returned by Run when its input or output is not a
// terminal.
var ErrNoTerminal = errors.New("top needs a terminal (for scripts: ctl status --json, ctl events)")

// ErrShutdown is returned by Run when the view ended because the
// supervisor shut down.
var ErrShutdown = errors.New("the supervisor shut down")

// Run runs the view full-screen on the terminal in and out until the user
// quits (nil), the supervisor shuts down (ErrShutdown) or cannot be
// reached (the error).
func Run(ctx context.Context, opt Options, in, out *os.File) error {
	if !isTerminal(in) || !isTerminal(out) {
		return ErrNoTerminal
	}
	// Say at once, on the plain terminal, when there is nobody to watch.
	if _, err := opt.Source.Snapshot(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := New(ctx, opt)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithFPS(fps))
	_, err := p.Run()
	m.sampler.close()
	quiet := errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, tea.ErrInterrupted)
	if err != nil && (errors.Is(err, tea.ErrProgramPanic) || !quiet) {
		return fmt.Errorf("cannot run the view: %w", err)
	}
	if m.gone != nil {
		return m.gone
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
