package top

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
)

// Local is the Source of one supervisor reached through its control
// socket, on this machine.
type Local struct {
	Client *control.Client
}

// Snapshot returns the supervisor's status as one node named after the
// host.
func (l Local) Snapshot(ctx context.Context) (Snapshot, error) {
	st, err := l.Client.Status(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	host, _ := os.Hostname()
	n := Node{Name: host, Up: true, Local: true, Profile: st.Profile, Config: st.Config, PID: st.PID,
		Daemons: make(map[string]Daemon, len(st.Daemons))}
	for name, d := range st.Daemons {
		n.Daemons[name] = Daemon{DaemonStatus: d}
	}
	return Snapshot{Nodes: []Node{n}}, nil
}

// Subscribe opens the supervisor's event stream.
func (l Local) Subscribe(ctx context.Context) (Stream, error) {
	s, err := l.Client.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	return localStream{s}, nil
}

type localStream struct{ *control.EventStream }

func (s localStream) Next() (Event, error) {
	raw, err := s.EventStream.Next()
	if err != nil {
		return Event{}, err
	}
	e := Event{Raw: raw}
	if err := json.Unmarshal(raw, &e.Event); err != nil {
		return Event{}, fmt.Errorf("cannot decode an event: %w", err)
	}
	return e, nil
}

// Act sends the action to the supervisor.
func (l Local) Act(ctx context.Context, a Action) error {
	switch a.Verb {
	case Restart, ForceRestart:
		return l.Client.Restart(ctx, a.Verb == ForceRestart, a.Daemon.Name)
	case Stop:
		return l.Client.Stop(ctx, a.Daemon.Name)
	case Start:
		return l.Client.Start(ctx, a.Daemon.Name)
	}
	return fmt.Errorf("cannot %v", a.Verb)
}

// Profiles reads the profiles of the config file the supervisor runs, as
// it is now on disk.
func (l Local) Profiles(ctx context.Context, _ string) ([]string, error) {
	st, err := l.Client.Status(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(st.Config)
	if err != nil {
		return nil, fmt.Errorf("cannot read the profiles: %w", err)
	}
	return cfg.ProfileNames(), nil
}

// SetProfile switches the supervisor's profile.
func (l Local) SetProfile(ctx context.Context, _, profile string) error {
	return l.Client.SetProfile(ctx, profile)
}

// Logs follows the daemon's output.
func (l Local) Logs(ctx context.Context, d Ref, lines int, w io.Writer) error {
	return l.Client.Logs(ctx, d.Name, lines, true, w)
}
