package top

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ringrift/ringsup/supervisor"
)

// TestProgramFollowsStream runs the whole program, commands included,
// with Bubble Tea's test driver: the view connects, shows events as they
// come, and exits cleanly when the supervisor shuts down.
func TestProgramFollowsStream(t *testing.T) {
	f := newFake(node())
	m := New(t.Context(), Options{Source: f, Where: "/run/ringsup.sock"})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("worker")) },
		teatest.WithDuration(30*time.Second))

	e := event(supervisor.DaemonStarted, "web", 0)
	e.PID, e.Timestamp = 9999, float64(time.Now().Unix())
	f.events <- e
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("9999")) },
		teatest.WithDuration(30*time.Second))

	f.end <- io.EOF
	tm.WaitFinished(t, teatest.WithFinalTimeout(30*time.Second))
	final := tm.FinalModel(t).(*Model)
	if !errors.Is(final.Gone(), ErrShutdown) {
		t.Errorf("Gone() = %v, want ErrShutdown", final.Gone())
	}
	if !strings.Contains(screen(final), "the supervisor shut down") {
		t.Errorf("the last view does not say why it ended:\n%s", screen(final))
	}
	if r := final.rows[Ref{Name: "web"}]; r == nil || r.d.PID != 9999 {
		t.Errorf("web = %+v, want pid 9999", r)
	}
}

// TestProgramQuits: q ends the program, and it says nothing of the
// supervisor.
func TestProgramQuits(t *testing.T) {
	f := newFake(node())
	tm := teatest.NewTestModel(t, New(t.Context(), Options{Source: f}), teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("worker")) },
		teatest.WithDuration(30*time.Second))
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(30*time.Second))
	if g := tm.FinalModel(t).(*Model).Gone(); g != nil {
		t.Errorf("Gone() = %v, want nil", g)
	}
}

func TestRunNeedsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := Run(t.Context(), Options{Source: newFake(node())}, r, w); !errors.Is(err, ErrNoTerminal) {
		t.Errorf("Run on pipes = %v, want ErrNoTerminal", err)
	}
}
