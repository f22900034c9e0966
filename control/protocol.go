package control

import (
	"encoding/json"
	"strconv"

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
	CmdScale    = "scale"    // names: exactly one; instances; answers like reload
	CmdEmit     = "emit"     // type, data, as: publish an event (emit.go)
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
	// Text asks a status request for the status as `ctl status --json`
	// prints it (indented JSON and a newline), after the answer line
	// rather than in it; the answer line says its Length.
	Text bool `json:"text,omitempty"`
	// Table asks a status request for the status as the `ctl status`
	// table, sent as Text is; Color colours its STATE column for a
	// terminal.
	Table bool `json:"table,omitempty"`
	Color bool `json:"color,omitempty"`
	// Wait keeps a start, stop, restart, profile, reload or scale request open
	// after its answer: one Settled line per daemon as it settles, then
	// End "settled".
	Wait bool `json:"wait,omitempty"`
	// Instances is how many instances a scale request asks for.
	Instances int `json:"instances,omitempty"`

	// Type is the event type an emit request publishes.
	Type string `json:"type,omitempty"`
	// Data is the payload of an emit request: a JSON object on one line.
	Data json.RawMessage `json:"data,omitempty"`
	// As names the source daemon of an emit request from outside any
	// daemon; only root and the supervisor's user may.
	As string `json:"as,omitempty"`
	// Types and Daemons filter an events request: only events of one of
	// Types (all when empty) and of one of Daemons (all when empty).
	Types   []string `json:"types,omitempty"`
	Daemons []string `json:"daemons,omitempty"`
}

// appendRequest appends req as json.Marshal encodes it, without the
// reflection that json.Marshal sets up on its first call: one request is
// all that a `ringsup ctl` process encodes.
func appendRequest(b []byte, req Request) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(req.V), 10)
	b = append(b, `,"cmd":`...)
	b = appendJSONString(b, req.Cmd)
	if len(req.Names) > 0 {
		b = append(b, `,"names":[`...)
		for i, n := range req.Names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
		}
		b = append(b, ']')
	}
	if req.Force {
		b = append(b, `,"force":true`...)
	}
	if req.Lines != nil {
		b = append(b, `,"lines":`...)
		b = strconv.AppendInt(b, int64(*req.Lines), 10)
	}
	if req.Follow {
		b = append(b, `,"follow":true`...)
	}
	if req.Profile != "" {
		b = append(b, `,"profile":`...)
		b = appendJSONString(b, req.Profile)
	}
	if req.Text {
		b = append(b, `,"text":true`...)
	}
	if req.Table {
		b = append(b, `,"table":true`...)
	}
	if req.Color {
		b = append(b, `,"color":true`...)
	}
	if req.Wait {
		b = append(b, `,"wait":true`...)
	}
	if req.Instances != 0 {
		b = append(b, `,"instances":`...)
		b = strconv.AppendInt(b, int64(req.Instances), 10)
	}
	b = appendEmitFields(b, req)
	return append(b, '}')
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
	// Length answers a status request with Text: how many bytes of
	// status text follow the answer line.
	Length int `json:"length,omitempty"`
	// Event is one event of an events stream.
	Event *supervisor.Event `json:"event,omitempty"`
	// Reload answers reload and scale: the daemons it added, removed,
	// restarted and updated.
	Reload *supervisor.ReloadSummary `json:"reload,omitempty"`
	// Waiting answers a request with Wait: the daemons it waits for.
	Waiting []string `json:"waiting,omitempty"`
	// Settled is one daemon's outcome, on the lines after the answer to
	// a request with Wait.
	Settled *supervisor.Settled `json:"settled,omitempty"`
	// End is set on the last line of an events stream the server ended
	// normally: "shutdown"; and of a request with Wait: "settled" once
	// every daemon settled, "shutdown" if the supervisor stopped first.
	End string `json:"end,omitempty"`
}

// reply is a Response as a client reads it: the payloads stay raw JSON, so
// a client passes on fields it does not know.
type reply struct {
	V       int                 `json:"v"`
	OK      bool                `json:"ok"`
	Error   string              `json:"error"`
	PID     int                 `json:"pid"`
	Status  json.RawMessage     `json:"status"`
	Length  int64               `json:"length"`
	Event   json.RawMessage     `json:"event"`
	Reload  json.RawMessage     `json:"reload"`
	Waiting []string            `json:"waiting"`
	Settled *supervisor.Settled `json:"settled"`
	End     string              `json:"end"`
}
