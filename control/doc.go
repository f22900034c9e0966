// Package control is ringsup's control plane: the unix socket a running
// supervisor answers on, the line-delimited JSON protocol spoken over it,
// and the client `ringsup ctl` uses.
//
// A Server (Listen) owns the socket. It refuses to start while another
// supervisor answers on it, replaces a stale socket file, creates the socket
// with mode 0600 (and its directory with 0700 when it has to create it), and
// removes it on Close. Every connection's peer credentials are checked: only
// root and the supervisor's own uid are served.
//
// The server only calls the methods of a *supervisor.Supervisor, from one
// goroutine per connection; it never touches the supervisor's state and the
// supervisor never waits for it. Every connection has deadlines, and at most
// Options.MaxClients are served at once.
//
// # Protocol
//
// One request per connection. The client sends one JSON object on one line
// (at most MaxRequestSize bytes), a Request:
//
//	{"v":1,"cmd":"status","names":["router"]}
//
// and the server answers with one line, a Response:
//
//	{"v":1,"ok":true,"status":{...}}
//	{"v":1,"ok":false,"error":"unknown daemon \"foo\""}
//
// then closes the connection, except for these commands:
//
//   - "events" (filtered by "types" and "daemons" when given): after the
//     first line, one line per supervisor event,
//     {"v":1,"ok":true,"event":{...}}, until the client closes the
//     connection. The stream's last line says why it ended when the server
//     ends it: {"v":1,"ok":true,"end":"shutdown"} when the supervisor shut
//     down, or {"v":1,"ok":false,"error":"..."} when the client fell behind
//     and was dropped.
//   - "emit": after the answer, the client may send further emit requests
//     on the same connection; each gets its answer line, in order, and
//     those it wrote together are published and answered together. The
//     server closes the connection when the client does, after a request
//     of another command, or after a minute without one.
//   - "status" with "text":true: the answer line holds no status but its
//     "length", {"v":1,"ok":true,"length":N}, and N bytes follow it: the
//     status as `ringsup ctl status --json` prints it (the JSON of
//     "status", indented by two spaces, and a newline), which the client
//     copies to its output without decoding it. A supervisor that predates
//     "text" ignores it and answers with "status"; the client then indents
//     that itself.
//   - "logs": after the first line, the raw bytes of the daemon's log file
//     (its last "lines" lines), then, with "follow", whatever is appended,
//     until the client closes the connection or the supervisor stops.
//   - "shutdown": the answer comes once the shutdown has begun; the server
//     then keeps the connection open until the supervisor has stopped every
//     daemon and removed the socket, and closes it.
//
// A request with another version, malformed JSON, an unknown command, more
// than MaxRequestSize bytes, or no complete line within Options.ReadTimeout
// gets an error line (when it can still be written) and a closed connection.
package control
