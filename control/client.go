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
	"syscall"
	"time"

	"github.com/ringrift/ringsup/supervisor"
)

// DefaultTimeout bounds a request's answer when Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Client talks to a supervisor's control socket. Each call is one
// connection. The zero Timeout means DefaultTimeout. A Client may be used by
// several goroutines at once.
type Client struct {
	// Path is the socket's path.
	Path string
	// Timeout bounds connecting and receiving the answer. Streams (events,
	// logs, the wait for a shutdown to finish) are bounded only by their
	// context once answered.
	Timeout time.Duration
}

// timeout is Timeout, or DefaultTimeout when it is zero.
func (cl *Client) timeout() time.Duration {
	if cl.Timeout <= 0 {
		return DefaultTimeout
	}
	return cl.Timeout
}

// conn is one request in progress.
type conn struct {
	c    *net.UnixConn
	r    *bufio.Reader
	stop func() bool // ends the context watch
}

func (c *conn) close() {
	c.stop()
	c.c.Close()
}

// call connects, sends req and reads the answer. It returns the connection,
// still open, for streams; the caller closes it. A refusal by the
// supervisor is a *RemoteError.
func (cl *Client) call(ctx context.Context, req Request) (*conn, reply, error) {
	timeout := cl.timeout()
	if len(cl.Path) > MaxPathLen {
		return nil, reply{}, &PathTooLongError{Path: cl.Path}
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "unix", cl.Path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, reply{}, &NotListeningError{Path: cl.Path}
		}
		if ctx.Err() != nil {
			return nil, reply{}, ctx.Err()
		}
		return nil, reply{}, fmt.Errorf("cannot connect to %s: %w", cl.Path, unwrapErrno(err))
	}
	uc := nc.(*net.UnixConn)
	c := &conn{c: uc, r: bufio.NewReader(uc)}
	// Cancelling ctx interrupts whatever the connection is blocked in.
	c.stop = context.AfterFunc(ctx, func() { uc.SetDeadline(time.Now()) })
	rp, err := c.roundTrip(req, time.Now().Add(timeout))
	if err == nil {
		// Streams have no deadline but ctx's. Checked after clearing the
		// deadline, so a cancellation that came just before is not lost.
		uc.SetDeadline(time.Time{})
		err = ctx.Err()
	}
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			return nil, reply{}, ctx.Err()
		}
		return nil, reply{}, err
	}
	return c, rp, nil
}

// roundTrip sends req and reads its answer before the deadline.
func (c *conn) roundTrip(req Request, deadline time.Time) (reply, error) {
	c.c.SetDeadline(deadline)
	_, werr := c.c.Write(append(appendRequest(nil, req), '\n'))
	// A server that refuses a client answers before it reads the request,
	// and closes: the answer is still there to read.
	rp, err := c.read()
	if err != nil {
		if werr != nil {
			return rp, fmt.Errorf("cannot send the request: %w", unwrapErrno(werr))
		}
		return rp, err
	}
	if !rp.OK {
		return rp, &RemoteError{Msg: rp.Error}
	}
	return rp, nil
}

// readErr is the error of a read from the connection that failed with err
// after n bytes of an answer.
func readErr(err error, n int) error {
	switch {
	case errors.Is(err, io.EOF) && n == 0:
		return io.EOF
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("no answer from the supervisor in time")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the supervisor closed the connection in the middle of an answer")
	default:
		return fmt.Errorf("cannot read the answer: %w", unwrapErrno(err))
	}
}

// read reads one response line.
func (c *conn) read() (reply, error) {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return reply{}, readErr(err, len(line))
	}
	if rp, ok := textAnswer(line); ok {
		return rp, nil
	}
	if rp, ok := eventLine(line); ok {
		return rp, nil
	}
	if bytes.Equal(line, okLine) {
		return reply{V: Version, OK: true}, nil
	}
	var rp reply
	if err := json.Unmarshal(line, &rp); err != nil {
		return rp, fmt.Errorf("cannot decode the answer: %w", err)
	}
	return rp, nil
}

// textAnswerPrefix starts the answer line of a status request with Text
// as Server writes it: {"v":1,"ok":true,"length":N}.
const textAnswerPrefix = `{"v":1,"ok":true,"length":`

// textAnswer decodes line if it is exactly the answer line of a status
// request with Text as Server writes it. That spares json.Unmarshal, whose
// first call in a process (all that a `ringsup ctl` process makes) spends
// more time in reflection than the rest of the decoding.
func textAnswer(line []byte) (reply, bool) {
	digits, ok := bytes.CutPrefix(line, []byte(textAnswerPrefix))
	if !ok {
		return reply{}, false
	}
	if digits, ok = bytes.CutSuffix(digits, []byte("}\n")); !ok || len(digits) == 0 || digits[0] < '1' || digits[0] > '9' {
		return reply{}, false
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || n <= 0 {
		return reply{}, false
	}
	return reply{V: Version, OK: true, Length: n}, true
}

// do makes a request whose answer is all there is.
func (cl *Client) do(ctx context.Context, req Request) (reply, error) {
	c, rp, err := cl.call(ctx, req)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the supervisor closed the connection without answering")
		}
		return rp, err
	}
	c.close()
	return rp, nil
}

// Ping returns the pid of the supervisor answering on the socket.
func (cl *Client) Ping(ctx context.Context) (int, error) {
	rp, err := cl.do(ctx, Request{V: Version, Cmd: CmdPing})
	return rp.PID, err
}

// StatusJSON returns the JSON of `ctl status --json` for the named daemons,
// or all of them, as the supervisor sent it.
func (cl *Client) StatusJSON(ctx context.Context, names ...string) (json.RawMessage, error) {
	rp, err := cl.do(ctx, Request{V: Version, Cmd: CmdStatus, Names: names})
	if err != nil {
		return nil, err
	}
	if len(rp.Status) == 0 {
		return nil, errors.New("the supervisor's answer holds no status")
	}
	return rp.Status, nil
}

// StatusText writes the status of the named daemons, or all of them, to w
// as `ctl status --json` prints it: the JSON of StatusJSON, indented by two
// spaces, and a newline. The supervisor sends it so, and w gets it as it
// arrives, with no decoding (from a supervisor that predates this, which
// sends StatusJSON, it is indented here). On an error in the middle of the
// text, w has received its start.
func (cl *Client) StatusText(ctx context.Context, w io.Writer, names ...string) error {
	return cl.statusText(ctx, w, Request{V: Version, Cmd: CmdStatus, Names: names, Text: true},
		func(out *bytes.Buffer, raw json.RawMessage) error {
			if err := json.Indent(out, raw, "", "  "); err != nil {
				return err
			}
			return out.WriteByte('\n')
		})
}

// StatusTable writes the status of the named daemons, or all of them, to
// w as the `ctl status` table, its STATE column coloured when color is
// set. The supervisor renders it, so nothing is decoded here (from a
// supervisor that predates this, which sends StatusJSON, it is rendered
// here).
func (cl *Client) StatusTable(ctx context.Context, w io.Writer, color bool, names ...string) error {
	return cl.statusText(ctx, w, Request{V: Version, Cmd: CmdStatus, Names: names, Table: true, Color: color},
		func(out *bytes.Buffer, raw json.RawMessage) error {
			var st supervisor.Status
			if err := json.Unmarshal(raw, &st); err != nil {
				return err
			}
			out.Write(appendStatusTable(nil, st.List(), color))
			return nil
		})
}

// statusText sends req, a status request for text, and copies the text
// to w; from a supervisor that answers with the status object instead,
// fallback renders that.
func (cl *Client) statusText(ctx context.Context, w io.Writer, req Request, fallback func(*bytes.Buffer, json.RawMessage) error) error {
	c, rp, err := cl.call(ctx, req)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the supervisor closed the connection without answering")
		}
		return err
	}
	defer c.close()
	if len(rp.Status) > 0 {
		var out bytes.Buffer
		if err := fallback(&out, rp.Status); err != nil {
			return fmt.Errorf("cannot decode the status: %w", err)
		}
		_, err := out.WriteTo(w)
		return err
	}
	if rp.Length <= 0 {
		return errors.New("the supervisor's answer holds no status")
	}
	// The text has the deadline of an answer, which call lifted.
	c.c.SetDeadline(time.Now().Add(cl.timeout()))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	lr := io.LimitedReader{R: c.r, N: rp.Length}
	buf := make([]byte, min(rp.Length, 32<<10))
	for lr.N > 0 {
		n, err := lr.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return readErr(err, 1)
		}
	}
	return nil
}

// Status returns the status of the named daemons, or all of them.
func (cl *Client) Status(ctx context.Context, names ...string) (supervisor.Status, error) {
	var st supervisor.Status
	raw, err := cl.StatusJSON(ctx, names...)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("cannot decode the status: %w", err)
	}
	return st, nil
}

// Start starts the named daemons, their dependencies first. It returns once
// the supervisor has accepted the request.
func (cl *Client) Start(ctx context.Context, names ...string) error {
	_, err := cl.do(ctx, Request{V: Version, Cmd: CmdStart, Names: names})
	return err
}

// Stop stops the named daemons, their running dependents first. It returns
// once the supervisor has accepted the request.
func (cl *Client) Stop(ctx context.Context, names ...string) error {
	_, err := cl.do(ctx, Request{V: Version, Cmd: CmdStop, Names: names})
	return err
}

// Restart restarts the named daemons; see supervisor.Supervisor.Restart.
func (cl *Client) Restart(ctx context.Context, force bool, names ...string) error {
	_, err := cl.do(ctx, Request{V: Version, Cmd: CmdRestart, Names: names, Force: force})
	return err
}

// ReloadTimeout is how long Reload waits for its answer at least: a
// reload waits for a cascade or another reload under way to end.
const ReloadTimeout = 5 * time.Minute

// Reload makes the supervisor reload its config file and returns what
// changed. An invalid file is a *RemoteError holding every config error,
// one per line; nothing changed.
func (cl *Client) Reload(ctx context.Context) (supervisor.ReloadSummary, error) {
	return cl.changeConfig(ctx, Request{V: Version, Cmd: CmdReload})
}

// changeConfig sends a reload or scale request, which may wait for
// ReloadTimeout, and returns the summary it answers with.
func (cl *Client) changeConfig(ctx context.Context, req Request) (supervisor.ReloadSummary, error) {
	long := *cl
	long.Timeout = max(cl.Timeout, ReloadTimeout)
	var sum supervisor.ReloadSummary
	rp, err := long.do(ctx, req)
	if err != nil {
		return sum, err
	}
	if err := json.Unmarshal(rp.Reload, &sum); err != nil {
		return sum, fmt.Errorf("cannot decode the %s summary: %w", req.Cmd, err)
	}
	return sum, nil
}

// Scale sets how many instances the daemon name runs, starting new ones or
// stopping the highest-numbered, and returns what changed. It waits as
// Reload does.
func (cl *Client) Scale(ctx context.Context, name string, n int) (supervisor.ReloadSummary, error) {
	return cl.changeConfig(ctx, Request{V: Version, Cmd: CmdScale, Names: []string{name}, Instances: n})
}

// SetProfile switches the supervisor's active profile.
func (cl *Client) SetProfile(ctx context.Context, profile string) error {
	_, err := cl.do(ctx, Request{V: Version, Cmd: CmdProfile, Profile: profile})
	return err
}

// Shutdown asks the supervisor to stop every daemon and exit, and waits
// until it has (its socket is gone), or ctx is done.
func (cl *Client) Shutdown(ctx context.Context) error {
	c, _, err := cl.call(ctx, Request{V: Version, Cmd: CmdShutdown})
	if err != nil {
		return err
	}
	defer c.close()
	_, err = io.Copy(io.Discard, c.r)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Events calls fn with each event, as the JSON the supervisor sent, until
// ctx is done (then it returns ctx.Err()), fn returns an error (returned),
// or the supervisor shuts down (nil). A client that falls behind is dropped
// by the supervisor: that is a *RemoteError.
func (cl *Client) Events(ctx context.Context, fn func(json.RawMessage) error) error {
	return cl.events(ctx, Request{V: Version, Cmd: CmdEvents}, fn)
}

// events makes the events request req and calls fn with each event.
func (cl *Client) events(ctx context.Context, req Request, fn func(json.RawMessage) error) error {
	s, err := cl.subscribe(ctx, req)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		e, err := s.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Logs writes the last lines of the named daemon's log to w and, with
// follow, what is appended to it, until ctx is done (ctx.Err() is
// returned) or the supervisor stops (nil).
func (cl *Client) Logs(ctx context.Context, name string, lines int, follow bool, w io.Writer) error {
	c, _, err := cl.call(ctx, Request{V: Version, Cmd: CmdLogs, Names: []string{name}, Lines: &lines, Follow: follow})
	if err != nil {
		return err
	}
	defer c.close()
	_, err = io.Copy(w, c.r)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
