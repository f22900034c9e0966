package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/supervisor"
)

// This file holds the events daemons publish (emit) and the filters of an
// events stream, on both ends of the socket.

// emitIdleTimeout is how long an emit connection may wait for its next
// request before the server closes it.
const emitIdleTimeout = time.Minute

// peer is the process at the other end of a connection, as its
// credentials tell.
type peer struct{ uid, pid int }

// appendEmitFields appends the fields of an emit or a filtered events
// request to the JSON object b.
func appendEmitFields(b []byte, req Request) []byte {
	if req.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, req.Type)
	}
	if len(req.Data) > 0 {
		// As json.Marshal writes a RawMessage: compact, HTML-escaped.
		var compact, escaped bytes.Buffer
		if json.Compact(&compact, req.Data) == nil {
			json.HTMLEscape(&escaped, compact.Bytes())
			b = append(b, `,"data":`...)
			b = append(b, escaped.Bytes()...)
		}
	}
	if req.As != "" {
		b = append(b, `,"as":`...)
		b = appendJSONString(b, req.As)
	}
	b = appendStrings(b, "types", req.Types)
	return appendStrings(b, "daemons", req.Daemons)
}

func appendStrings(b []byte, key string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// eventFilter is the filter of an events request.
func eventFilter(req Request) supervisor.EventFilter {
	f := supervisor.EventFilter{Daemons: req.Daemons}
	for _, t := range req.Types {
		f.Types = append(f.Types, supervisor.EventType(t))
	}
	return f
}

// emit answers an emit request, and the emit requests that follow it on
// the same connection, each with one line, until the client closes it or
// stays idle for emitIdleTimeout.
//
// The source of the events is the daemon whose process leads the peer's
// process group. Only root and the supervisor's user may name another
// source (As), and then only from outside any daemon.
func (s *Server) emit(conn *net.UnixConn, req Request, p peer) {
	group := 0 // none known: in another pid namespace, or gone already
	if p.pid > 0 {
		if g, err := unix.Getpgid(p.pid); err == nil {
			group = g
		}
	}
	trusted := p.uid == 0 || p.uid == s.uid
	r := bufio.NewReader(conn)
	batch := []Request{req}
	var out []byte
	for {
		// The requests a client wrote together are answered together.
		for r.Buffered() > 0 && len(batch) < maxEmitBatch {
			next, err := readNextRequest(r)
			if err != nil {
				s.send(conn, errorResponse(err))
				return
			}
			batch = append(batch, next)
		}
		out = out[:0]
		for _, err := range s.emitBatch(batch, p, group, trusted) {
			if err == nil {
				out = append(out, okLine...)
				continue
			}
			out = append(out, encode(errorResponse(err))...)
		}
		conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if _, err := conn.Write(out); err != nil {
			return
		}
		for _, q := range batch {
			if q.Cmd != CmdEmit {
				return
			}
		}
		conn.SetReadDeadline(time.Now().Add(emitIdleTimeout))
		next, err := readNextRequest(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				s.send(conn, errorResponse(err))
			}
			return
		}
		batch = append(batch[:0], next)
	}
}

// maxEmitBatch bounds how many requests of an emit connection are
// answered together.
const maxEmitBatch = 256

// emitBatch publishes the events of reqs, emit requests of p, and returns
// the error of each; a request that is no emit gets an error.
func (s *Server) emitBatch(reqs []Request, p peer, group int, trusted bool) []error {
	errs := make([]error, len(reqs))
	ms := make([]supervisor.Emission, 0, len(reqs))
	at := make([]int, 0, len(reqs)) // which request each emission is
	for i, req := range reqs {
		switch {
		case req.Cmd != CmdEmit:
			errs[i] = fmt.Errorf("only emit requests may follow an emit on its connection, not %q", req.Cmd)
		case req.As != "" && !trusted:
			errs[i] = fmt.Errorf("permission denied: uid %d may not publish as another daemon", p.uid)
		default:
			ms = append(ms, supervisor.Emission{Type: supervisor.EventType(req.Type), Data: req.Data, Group: group, As: req.As})
			at = append(at, i)
		}
	}
	if len(ms) > 0 {
		for j, err := range s.sup.EmitAll(ms) {
			errs[at[j]] = err
		}
	}
	return errs
}

// readNextRequest reads a request line that follows another on a
// connection: at most MaxRequestSize bytes, the protocol's version.
func readNextRequest(r *bufio.Reader) (Request, error) {
	var req Request
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxRequestSize+1 {
			return req, fmt.Errorf("request too long (more than %d bytes)", MaxRequestSize)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) == 0 && errors.Is(err, io.EOF) {
				return req, io.EOF
			}
			return req, err
		}
	}
	return decodeRequest(line)
}

// compactData returns data, a JSON object, on one line; nil stays nil.
func compactData(data json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil || b.Bytes()[0] != '{' {
		return nil, errors.New("cannot publish: data must be a JSON object")
	}
	return b.Bytes(), nil
}

// Emit publishes an event of type typ, one of the supervisor's custom types
// ([events] types), with data, a JSON object (nil means {}). The event's
// source (daemon_type) is the daemon the calling process belongs to, by its
// process group; none outside any daemon. A refusal (an undeclared type,
// data not an object or too big, the rate limit) is a *RemoteError.
func (cl *Client) Emit(ctx context.Context, typ string, data json.RawMessage) error {
	return cl.EmitAs(ctx, "", typ, data)
}

// EmitAs is Emit with a source daemon named by the caller, as `ctl emit
// --as`: only root and the supervisor's user may, from outside any daemon
// (or naming the daemon they belong to). An empty as is Emit.
func (cl *Client) EmitAs(ctx context.Context, as, typ string, data json.RawMessage) error {
	data, err := compactData(data)
	if err != nil {
		return err
	}
	_, err = cl.do(ctx, Request{V: Version, Cmd: CmdEmit, Type: typ, Data: data, As: as})
	return err
}

// EventFilter selects the events of a stream: those of one of Types (all
// when empty) and, when Daemons is not empty, of one of those daemons.
// The supervisor filters, so the events left out are never sent.
type EventFilter struct {
	Types   []string
	Daemons []string
}

// Match reports whether the event e, as a supervisor sends it, passes f:
// what the supervisor itself decides, for a stream it does not filter (the
// events of a cluster, read from etcd).
func (f EventFilter) Match(e json.RawMessage) bool {
	if len(f.Types) == 0 && len(f.Daemons) == 0 {
		return true
	}
	var ev supervisor.Event
	if json.Unmarshal(e, &ev) != nil {
		return false
	}
	return eventFilter(Request{Types: f.Types, Daemons: f.Daemons}).Match(ev)
}

// EventsFiltered is Events for the events that pass f only. A type that is
// neither ringsup's own nor declared, or an unknown daemon, is a
// *RemoteError.
func (cl *Client) EventsFiltered(ctx context.Context, f EventFilter, fn func(json.RawMessage) error) error {
	return cl.events(ctx, Request{V: Version, Cmd: CmdEvents, Types: f.Types, Daemons: f.Daemons}, fn)
}

// Publisher publishes events over one connection, for a process that
// publishes many: it spares a connection per event. The connection takes
// one of the server's Options.MaxClients slots until Close, or until the
// server closes it after a minute without an event. Make one with
// Client.Publisher. It is not safe for concurrent use.
type Publisher struct {
	cl *Client
	c  *conn
}

// Publisher returns a Publisher that connects on its first Emit.
func (cl *Client) Publisher() *Publisher { return &Publisher{cl: cl} }

// Emit is Client.Emit over the publisher's connection. A connection the
// supervisor closed (it closes those idle for a minute) is replaced once.
func (p *Publisher) Emit(ctx context.Context, typ string, data json.RawMessage) error {
	data, err := compactData(data)
	if err != nil {
		return err
	}
	req := Request{V: Version, Cmd: CmdEmit, Type: typ, Data: data}
	if p.c != nil {
		_, err := p.c.roundTrip(req, time.Now().Add(p.cl.timeout()))
		var remote *RemoteError
		if err == nil || errors.As(err, &remote) {
			return err
		}
		p.Close() // stale: dial again
	}
	c, _, err := p.cl.call(ctx, req)
	if err != nil {
		return err
	}
	p.c = c
	return nil
}

// EmitAll publishes an event of type typ for each of data, in order: it
// writes them together (up to 256 at a time) and then reads their answers,
// so that many events cost about as much as one. It returns the first
// refusal (a *RemoteError) once every event has been answered.
func (p *Publisher) EmitAll(ctx context.Context, typ string, data ...json.RawMessage) error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if p.c == nil && len(data) > 0 { // the first one connects
		var remote *RemoteError
		if err := p.Emit(ctx, typ, data[0]); err != nil && !errors.As(err, &remote) {
			return err
		} else if err != nil {
			keep(err)
		}
		data = data[1:]
	}
	var buf []byte
	for len(data) > 0 {
		chunk := data[:min(len(data), maxEmitBatch)]
		data = data[len(chunk):]
		buf = buf[:0]
		for _, d := range chunk {
			d, err := compactData(d)
			if err != nil {
				return err
			}
			buf = append(appendRequest(buf, Request{V: Version, Cmd: CmdEmit, Type: typ, Data: d}), '\n')
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.c.c.SetDeadline(time.Now().Add(p.cl.timeout()))
		if _, err := p.c.c.Write(buf); err != nil {
			p.Close()
			return fmt.Errorf("cannot send the events: %w", unwrapErrno(err))
		}
		for range chunk {
			rp, err := p.c.read()
			if err != nil {
				p.Close()
				return err
			}
			if !rp.OK {
				keep(&RemoteError{Msg: rp.Error})
			}
		}
	}
	return first
}

// Close closes the publisher's connection.
func (p *Publisher) Close() error {
	if p.c != nil {
		p.c.close()
		p.c = nil
	}
	return nil
}

// eventBatch bounds how many events sendEvents writes at once.
const eventBatch = 256

// sendEvents writes the line of e and of the events already waiting in ch
// (up to eventBatch in all) to conn in one write within WriteTimeout: a
// stream that falls behind catches up with fewer system calls. It returns
// buf, for reuse, and whether ch turned out closed.
func (s *Server) sendEvents(conn *net.UnixConn, e supervisor.Event, ch <-chan supervisor.Event, buf []byte) ([]byte, bool, error) {
	buf = appendEventLine(buf, &e)
	closed := false
drain:
	for range eventBatch - 1 {
		select {
		case next, ok := <-ch:
			if !ok {
				closed = true
				break drain
			}
			buf = appendEventLine(buf, &next)
		default:
			break drain
		}
	}
	conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	_, err := conn.Write(buf)
	return buf, closed, err
}

// eventLinePrefix starts a line of an events stream as Server writes it:
// {"v":1,"ok":true,"event":{...}}.
const eventLinePrefix = `{"v":1,"ok":true,"event":{`

// eventLine decodes line if it is an event line as Server writes it,
// without json.Unmarshal: a subscriber of many events spends most of its
// time there otherwise. The event is passed on as it came.
func eventLine(line []byte) (reply, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(eventLinePrefix[:len(eventLinePrefix)-1]))
	if !ok {
		return reply{}, false
	}
	event, ok := bytes.CutSuffix(rest, []byte("}\n"))
	if !ok || len(event) < 2 || event[len(event)-1] != '}' {
		return reply{}, false
	}
	return reply{V: Version, OK: true, Event: event}, true
}

// appendEventLine appends the line of an events stream that carries e, as
// encode writes it. A daemon's own event (type, timestamp, daemon_type,
// instance and data, nothing else) is written without json.Marshal, which a stream of
// many of them to many subscribers would spend most of its time in.
func appendEventLine(b []byte, e *supervisor.Event) []byte {
	if !plainEvent(e) {
		return append(b, encode(Response{V: Version, OK: true, Event: e})...)
	}
	start := len(b)
	b = append(b, eventLinePrefix[:len(eventLinePrefix)-1]...)
	b = append(b, `{"type":`...)
	b = appendJSONString(b, string(e.Type))
	b = append(b, `,"timestamp":`...)
	b, err := appendJSONFloat(b, e.Timestamp)
	if err != nil {
		return append(b[:start], encode(Response{V: Version, OK: true, Event: e})...)
	}
	if e.Daemon != "" {
		b = append(b, `,"daemon_type":`...)
		b = appendJSONString(b, e.Daemon)
	}
	if e.Instance != nil {
		b = append(b, `,"instance":`...)
		b = strconv.AppendInt(b, int64(*e.Instance), 10)
	}
	b = append(b, `,"data":`...)
	b = append(b, e.Data...) // compact and escaped by the supervisor
	return append(b, "}}\n"...)
}

// plainEvent reports whether e is a daemon's own event with nothing but
// type, timestamp, daemon_type, instance and data. TestAppendEventLineMatchesEncode
// sets each other field of an Event in turn: a field added to Event and
// not checked here fails there.
func plainEvent(e *supervisor.Event) bool {
	return len(e.Data) > 0 && e.PID == 0 && e.ExitCode == nil && e.Signal == "" &&
		e.RestartCount == nil && e.DelayS == nil && e.Profile == "" && e.Error == "" &&
		e.Node == "" && e.Fence == nil && e.Reason == "" &&
		e.Dropped == 0 && e.Hook == "" && e.Trigger == "" && e.ReloadSummary == nil
}

// okLine is the answer {"v":1,"ok":true} as encode writes it.
var okLine = []byte(`{"v":1,"ok":true}` + "\n")
