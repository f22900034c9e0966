package top

import (
	"context"
	"encoding/json"
	"io"

	"github.com/ringrift/ringsup/supervisor"
)

// A Source is where the view gets its data and sends its actions. Its
// methods are called from goroutines of the view's own, never two
// Watch calls at once.
type Source interface {
	// Snapshot returns the state of every node the source covers.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Subscribe opens the event stream: every event published after it
	// returns is in the stream.
	Subscribe(ctx context.Context) (Stream, error)
	// Act asks for a start, stop or restart of one daemon and returns once
	// the request is taken.
	Act(ctx context.Context, a Action) error
	// Profiles returns the profiles node can be switched to, sorted.
	Profiles(ctx context.Context, node string) ([]string, error)
	// SetProfile switches node's active profile.
	SetProfile(ctx context.Context, node, profile string) error
	// Logs writes the last lines of the daemon's output to w, then what it
	// writes, until ctx is done.
	Logs(ctx context.Context, d Ref, lines int, w io.Writer) error
}

// Stream is an open event stream, read by one goroutine.
type Stream interface {
	// Next returns the next event. It returns io.EOF when the
	// supervisor shut down in order, and another error when the stream
	// broke or its context is done.
	Next() (Event, error)
	// Close ends the stream.
	Close()
}

// Ref names a daemon on a node.
type Ref struct {
	Node string
	Name string
}

// String returns "name", or "node/name" when the node is named.
func (r Ref) String() string {
	if r.Node == "" {
		return r.Name
	}
	return r.Node + "/" + r.Name
}

// Snapshot is what a Source knows at one moment.
type Snapshot struct {
	Nodes []Node
}

// Node is one supervisor.
type Node struct {
	// Name is the node's name; "" for the only node of a Local source
	// that has no name to give.
	Name string
	// Up is false for a node that stopped or died (cluster sources).
	Up bool
	// Local says the node runs on this machine: its processes are
	// sampled from /proc.
	Local   bool
	Profile string
	Config  string
	// PID is the supervisor's process id (0 when not known).
	PID     int
	Daemons map[string]Daemon
}

// Daemon is one daemon's status on a node.
type Daemon struct {
	supervisor.DaemonStatus
	// Owner is, for a singleton daemon that runs on another node, the
	// node that holds it ("" otherwise).
	Owner string
	// Rev orders the status with the events of a source that numbers
	// them (Event.Rev): events with a higher Rev are newer than it. 0
	// when the source does not number them.
	Rev int64
}

// Event is one event of the stream.
type Event struct {
	// Node is the node that published the event ("" on a Local source).
	Node string
	supervisor.Event
	// Raw is the event as the supervisor sent it, fields of event types
	// the view does not know included.
	Raw json.RawMessage
	// Rev is the event's place among the statuses of its node's daemons
	// (Daemon.Rev), 0 when the source does not number them.
	Rev int64
}

// Verb is what an Action does.
type Verb int

// The actions a user can take on a daemon.
const (
	Restart Verb = iota
	ForceRestart
	Stop
	Start
)

var verbNames = [...]string{Restart: "restart", ForceRestart: "restart --force", Stop: "stop", Start: "start"}

// String returns the ctl command of the verb, such as "restart --force".
func (v Verb) String() string { return verbNames[v] }

// Action is a verb on a daemon.
type Action struct {
	Verb   Verb
	Daemon Ref
}
