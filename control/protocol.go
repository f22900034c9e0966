package control

import (
	"encoding/json"

	"github.com/ringrift/ringsup/supervisor"
)

// Version is the protocol version this package speaks, the "v" of every
// request and response.
const Version = 1

// MaxRequestSize is the longest request line a server reads, in bytes, not
// counting its newline: 1 MiB.
const MaxRequestSize = 1 << 20

// DefaultLogLines is how many lines a logs request returns when it does not
// say.
const DefaultLogLines = 100

// The commands of the protocol.
const (
	CmdPing     = "ping"     // answers with the supervisor's pid
	CmdStatus   = "status"   // names: optional filter
	CmdStart    = "start"    // names: one or more
	CmdStop     = "stop"     // names: one or more
	CmdRestart  = "restart"  // names: one or more; force
	CmdLogs     = "logs"     // names: exactly one; lines, follow
	CmdEvents   = "events"   // a stream of events
	CmdShutdown = "shutdown" // answers, then closes once the supervisor stopped
	CmdReload   = "reload"   // answers with what changed, once applied
	CmdProfile  = "profile"  // profile: the profile to switch to
)

// Request is the one line a client sends.
type Request struct {
	// V is the protocol version, Version.
	V int `json:"v"`
	// Cmd is one of the Cmd constants.
	Cmd string `json:"cmd"`
	// Names are the daemons the command applies to.
	Names []string `json:"names,omitempty"`
	// Force is restart's --force.
	Force bool `json:"force,omitempty"`
	// Lines is how many lines of the log to send first; absent means
	// DefaultLogLines, 0 means none.
	Lines *int `json:"lines,omitempty"`
	// Follow keeps a logs request open, sending what is appended.
	Follow bool `json:"follow,omitempty"`
	// Profile is the profile a profile request switches to.
	Profile string `json:"profile,omitempty"`
}

// Response is a line the server sends: the answer to a request, and each
// line of an events stream.
type Response struct {
	V  int  `json:"v"`
	OK bool `json:"ok"`
	// Error says what went wrong when OK is false.
	Error string `json:"error,omitempty"`
	// PID is the supervisor's pid, in the answer to ping.
	PID int `json:"pid,omitempty"`
	// Status answers status: the JSON of `ctl status --json`.
	Status *supervisor.Status `json:"status,omitempty"`
	// Event is one event of an events stream.
	Event *supervisor.Event `json:"event,omitempty"`
	// Reload answers reload: the daemons it added, removed, restarted
	// and updated.
	Reload *supervisor.ReloadSummary `json:"reload,omitempty"`
	// End is set on the last line of an events stream the server ended
	// normally: "shutdown".
	End string `json:"end,omitempty"`
}

// reply is a Response as a client reads it: the payloads stay raw JSON, so
// a client passes on fields it does not know.
type reply struct {
	V      int             `json:"v"`
	OK     bool            `json:"ok"`
	Error  string          `json:"error"`
	PID    int             `json:"pid"`
	Status json.RawMessage `json:"status"`
	Event  json.RawMessage `json:"event"`
	Reload json.RawMessage `json:"reload"`
	End    string          `json:"end"`
}
