package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/supervisor"
)

// Options configure a Server.
type Options struct {
	// Path is the socket's absolute path. Required.
	Path string
	// Supervisor is the supervisor the server controls. Required. The
	// server only calls its exported methods.
	Supervisor *supervisor.Supervisor
	// LogDir is where the daemons' logs are, as <LogDir>/<name>.log. A logs
	// request reads only the log of a daemon the supervisor knows.
	LogDir string
	// Logger receives the server's log: refused clients, bad requests.
	// Default: no logging.
	Logger hclog.Logger
	// UserSockets, if not nil, is attached to the server: the sockets it
	// opens for daemons that run as another user are served by it.
	UserSockets *UserSockets

	// MaxClients is how many connections are served at once. Default 64.
	MaxClients int
	// QueueWait is how long a connection beyond MaxClients waits for a slot
	// before it is answered "too many clients" and closed. Default 1s.
	QueueWait time.Duration
	// ReadTimeout is how long a client has, from its connection, to send
	// its whole request line. Then it gets an error and is closed.
	// Default 5s.
	ReadTimeout time.Duration
	// WriteTimeout is how long one write to a client may block. A client
	// that does not read for that long (such as a slow `ctl events`) is
	// dropped. Default 10s.
	WriteTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 64
	}
	if o.QueueWait <= 0 {
		o.QueueWait = time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// streamEndGrace bounds how long Close waits for the event streams to write
// their last lines before it closes their connections.
const streamEndGrace = time.Second

// Server answers control requests on a unix socket.
type Server struct {
	opts  Options
	log   hclog.Logger
	sup   *supervisor.Supervisor
	ln    *net.UnixListener
	lock  *os.File // the flock beside the socket, released by Close
	uid   int
	slots chan struct{} // one token per connection being served
	quit  chan struct{} // closed by Close
	wg    sync.WaitGroup
	// streams counts the event streams, which Close lets write their last
	// lines before it closes their connections.
	streams sync.WaitGroup
	files   *watcher
	// texts holds the buffers of status texts between requests (*[]byte):
	// the text of 1000 daemons is 300 KB, which need not be garbage after
	// each request.
	texts sync.Pool

	mu     sync.Mutex
	closed bool
	conns  map[*net.UnixConn]struct{}
	// daemonLns are the sockets of daemons that run as another user, by
	// daemon name, in daemonDir (usersocket.go).
	daemonLns map[string]*net.UnixListener
	daemonDir string

	closeOnce sync.Once
	closeErr  error
}

// Listen creates the socket and starts serving it in the background, until
// Close. It fails with an *AlreadyRunningError when another supervisor
// answers on the socket, with a *PathTooLongError when the path does not fit
// in a unix socket address, and with a plain error when the socket cannot be
// created. A socket file nobody listens on is replaced.
//
// Listen may be called before the supervisor's Run: requests then wait until
// Run serves them.
func Listen(opts Options) (*Server, error) {
	if opts.Supervisor == nil || opts.Path == "" {
		return nil, errors.New("cannot listen: no supervisor or no socket path")
	}
	opts.setDefaults()
	ln, lock, err := listen(opts.Path)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:  opts,
		log:   opts.Logger,
		sup:   opts.Supervisor,
		ln:    ln,
		lock:  lock,
		uid:   os.Geteuid(),
		slots: make(chan struct{}, opts.MaxClients),
		quit:  make(chan struct{}),
		files: newWatcher(opts.LogDir, opts.Logger),
		conns: make(map[*net.UnixConn]struct{}),
	}
	s.log.Debug("listening", "socket", opts.Path)
	if opts.UserSockets != nil {
		opts.UserSockets.attach(s)
	}
	s.wg.Add(1)
	go s.accept(ln, nil)
	return s, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.opts.Path }

// Close stops accepting, removes the socket, closes every connection and
// waits for their goroutines to end. A client waiting for a shutdown to
// finish sees its connection close once the socket is gone.
//
// A connection whose request is waiting for the supervisor's answer ends once
// the supervisor answers; after its Run has returned that is at once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeErr = s.ln.Close()
		os.Remove(s.opts.Path)
		s.closeDaemonSockets()
		s.lock.Close() // then lets the next supervisor in
		close(s.quit)
		// Event streams end with a line saying why. A client that does not
		// read holds its stream in a write; closing its connection after a
		// moment frees it, so that it cannot hold up the supervisor's exit.
		streamsDone := make(chan struct{})
		go func() { s.streams.Wait(); close(streamsDone) }()
		select {
		case <-streamsDone:
		case <-time.After(min(s.opts.WriteTimeout, streamEndGrace)):
		}
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	s.files.close()
	return s.closeErr
}

// accept serves connections until the listener is closed. A connection
// beyond MaxClients waits up to QueueWait for a slot (the next ones wait in
// the kernel's backlog meanwhile), then is refused.
//
// role is nil on the supervisor's socket, and says whose socket it is on a
// daemon's own.
func (s *Server) accept(ln *net.UnixListener, role *daemonRole) {
	defer s.wg.Done()
	var delay time.Duration // after an error such as EMFILE
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Error("cannot accept a connection", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.quit:
				return
			}
			continue
		}
		delay = 0
		if !s.acquire() {
			s.log.Warn("refused a client: too many clients", "max_clients", s.opts.MaxClients)
			s.refuse(conn, fmt.Sprintf("too many clients (%d at once)", s.opts.MaxClients))
			continue
		}
		if !s.track(conn) {
			<-s.slots
			conn.Close()
			return
		}
		s.wg.Add(1)
		go s.handle(conn, role)
	}
}

// acquire takes a slot, waiting up to QueueWait for one.
func (s *Server) acquire() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.opts.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-s.quit:
	}
	return false
}

// refuse answers conn with an error and closes it, without blocking: a new
// connection's buffer is empty, and the deadline covers the rest.
func (s *Server) refuse(conn *net.UnixConn, msg string) {
	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	conn.Write(encode(Response{V: Version, Error: msg}))
	conn.Close()
}

// track registers conn so that Close closes it; false once Close began.
func (s *Server) track(conn *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *Server) untrack(conn *net.UnixConn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

// handle serves one connection: check its credentials, read its request,
// answer it.
func (s *Server) handle(conn *net.UnixConn, role *daemonRole) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	defer s.untrack(conn)

	uid, pid, err := peerUID(conn)
	if err != nil {
		s.log.Error("refused a client: cannot read its credentials", "error", err)
		s.send(conn, errorResponse(err))
		return
	}
	if uid != 0 && uid != s.uid && (role == nil || uid != role.uid) {
		s.log.Warn("refused a client: permission denied", "uid", uid, "pid", pid)
		s.send(conn, Response{V: Version, Error: fmt.Sprintf("permission denied for uid %d", uid)})
		return
	}
	conn.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	req, err := readRequest(conn)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.log.Debug("bad request", "pid", pid, "error", err)
			s.send(conn, errorResponse(err))
		}
		return
	}
	conn.SetReadDeadline(time.Time{})
	if role != nil && !daemonCommand(req.Cmd) {
		s.send(conn, errorResponse(fmt.Errorf("%q is not served on the socket of daemon %q (only emit, events and ping)", req.Cmd, role.daemon)))
		return
	}
	s.serve(conn, req, peer{uid: uid, pid: pid})
}

// readRequest reads and decodes one request line of at most MaxRequestSize
// bytes. A request ended by the end of the stream rather than a newline is
// accepted; io.EOF means the client sent nothing at all.
func readRequest(conn net.Conn) (Request, error) {
	lr := &io.LimitedReader{R: conn, N: MaxRequestSize + 1}
	line, err := bufio.NewReader(lr).ReadBytes('\n')
	var req Request
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && lr.N == 0:
		return req, fmt.Errorf("request too long (more than %d bytes)", MaxRequestSize)
	case errors.Is(err, io.EOF) && len(line) == 0:
		return req, io.EOF
	case errors.Is(err, io.EOF):
	case errors.Is(err, os.ErrDeadlineExceeded):
		return req, errors.New("timed out waiting for a request")
	default:
		return req, err
	}
	return decodeRequest(line)
}

// decodeRequest decodes a request line of this protocol's version.
func decodeRequest(line []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return req, fmt.Errorf("malformed request: %w", err)
	}
	if req.V != Version {
		return req, fmt.Errorf("unsupported protocol version %d (this supervisor speaks %d)", req.V, Version)
	}
	return req, nil
}

// serve answers a valid request of p.
func (s *Server) serve(conn *net.UnixConn, req Request, p peer) {
	switch req.Cmd {
	case CmdPing:
		s.send(conn, Response{V: Version, OK: true, PID: os.Getpid()})
	case CmdStatus:
		st, err := s.sup.StatusList(req.Names...)
		if err != nil {
			s.send(conn, errorResponse(err))
			return
		}
		if !req.Text && !req.Table {
			full := st.Status()
			s.send(conn, Response{V: Version, OK: true, Status: &full})
			return
		}
		s.sendStatusText(conn, st, req)
	case CmdStart, CmdStop, CmdRestart:
		if len(req.Names) == 0 {
			s.send(conn, errorResponse(fmt.Errorf("%s needs at least one daemon name", req.Cmd)))
			return
		}
		if req.Wait {
			var w *supervisor.Waiter
			var err error
			switch req.Cmd {
			case CmdStart:
				w, err = s.sup.StartWaiting(req.Names...)
			case CmdStop:
				w, err = s.sup.StopWaiting(req.Names...)
			default:
				w, err = s.sup.RestartWaiting(req.Force, req.Names...)
			}
			s.sendSettled(conn, Response{V: Version, OK: true}, w, err)
			return
		}
		var err error
		switch req.Cmd {
		case CmdStart:
			err = s.sup.Start(req.Names...)
		case CmdStop:
			err = s.sup.Stop(req.Names...)
		default:
			err = s.sup.Restart(req.Force, req.Names...)
		}
		s.send(conn, errorResponse(err))
	case CmdShutdown:
		if err := s.sup.Shutdown(); err != nil {
			s.send(conn, errorResponse(err))
			return
		}
		s.log.Info("shutdown requested by a client")
		if s.send(conn, Response{V: Version, OK: true}) != nil {
			return
		}
		// Close (called once the supervisor has stopped) closes the
		// connection; a client that hangs up stops waiting.
		select {
		case <-s.quit:
		case <-clientGone(conn):
		}
	case CmdReload:
		sum, err := s.sup.Reload()
		if err != nil {
			s.send(conn, errorResponse(err))
			return
		}
		if req.Wait {
			w, err := s.sup.Wait(reloadGoals(sum))
			s.sendSettled(conn, Response{V: Version, OK: true, Reload: &sum}, w, err)
			return
		}
		s.send(conn, Response{V: Version, OK: true, Reload: &sum})
	case CmdScale:
		if len(req.Names) != 1 {
			s.send(conn, errorResponse(errors.New("scale needs exactly one daemon name")))
			return
		}
		sum, err := s.sup.Scale(req.Names[0], req.Instances)
		if err != nil {
			s.send(conn, errorResponse(err))
			return
		}
		if req.Wait {
			w, err := s.sup.Wait(reloadGoals(sum))
			s.sendSettled(conn, Response{V: Version, OK: true, Reload: &sum}, w, err)
			return
		}
		s.send(conn, Response{V: Version, OK: true, Reload: &sum})
	case CmdProfile:
		if req.Profile == "" {
			s.send(conn, errorResponse(errors.New("profile needs a profile name")))
			return
		}
		if req.Wait {
			w, err := s.sup.SetProfileWaiting(req.Profile)
			s.sendSettled(conn, Response{V: Version, OK: true}, w, err)
			return
		}
		s.send(conn, errorResponse(s.sup.SetProfile(req.Profile)))
	case CmdEvents:
		s.events(conn, req)
	case CmdEmit:
		s.emit(conn, req, p)
	case CmdLogs:
		s.logs(conn, req)
	default:
		s.send(conn, errorResponse(fmt.Errorf("unknown command %q", req.Cmd)))
	}
}

// events streams the supervisor's events to conn until the client hangs up,
// falls behind, or the supervisor stops.
//
// The supervisor closes the subscription before its Run returns, and the
// server is closed after that; whichever of the two the stream sees first,
// it writes what events are left and the end line.
func (s *Server) events(conn *net.UnixConn, req Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.streams.Add(1) // before Close waits: it sets closed first
	s.mu.Unlock()
	defer s.streams.Done()
	ch, cancel, err := s.sup.SubscribeFilter(eventFilter(req))
	if err != nil {
		s.send(conn, errorResponse(err))
		return
	}
	defer cancel()
	if s.send(conn, Response{V: Version, OK: true}) != nil {
		return
	}
	gone := clientGone(conn)
	var buf []byte
	for {
		var e supervisor.Event
		ok := false
		select {
		case e, ok = <-ch:
		case <-gone:
			return
		case <-s.quit:
			// Take what is left without waiting, then end.
			select {
			case e, ok = <-ch:
			default:
			}
		}
		if !ok {
			s.endEvents(conn)
			return
		}
		var closed bool
		var err error
		if buf, closed, err = s.sendEvents(conn, e, ch, buf[:0]); err != nil {
			s.log.Debug("dropped an event client", "error", err)
			return
		}
		if closed {
			s.endEvents(conn)
			return
		}
	}
}

// endEvents writes the last line of an events stream whose subscription the
// supervisor closed: it shut down, or it dropped the client for falling
// behind. The supervisor closes every subscription just before Run returns.
func (s *Server) endEvents(conn *net.UnixConn) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.sup.Done():
		s.send(conn, Response{V: Version, OK: true, End: "shutdown"})
	case <-s.quit:
		s.send(conn, Response{V: Version, OK: true, End: "shutdown"})
	case <-t.C:
		s.log.Warn("dropped an event client that fell behind")
		s.send(conn, Response{V: Version, Error: "dropped: this client fell behind the event stream"})
	}
}

// send writes one response line to conn within WriteTimeout.
func (s *Server) send(conn *net.UnixConn, r Response) error {
	conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	_, err := conn.Write(encode(r))
	return err
}

// sendStatusText answers a status request with Text or Table: the answer
// line with the text's length, then the text, in one write within
// WriteTimeout.
func (s *Server) sendStatusText(conn *net.UnixConn, st supervisor.StatusList, req Request) error {
	bp, _ := s.texts.Get().(*[]byte)
	if bp == nil {
		// The pool is emptied by the garbage collector: a new buffer
		// has the size a daemon's JSON usually takes (about 300 bytes),
		// not doubled from nothing while appending.
		bp = new([]byte)
		*bp = make([]byte, 0, 64+320*len(st.Daemons))
	}
	defer func() {
		if cap(*bp) <= maxPooledText {
			s.texts.Put(bp)
		}
	}()
	var text []byte
	var err error
	if req.Table {
		text = appendStatusTable((*bp)[:0], st, req.Color)
	} else {
		text, err = appendStatusText((*bp)[:0], st)
	}
	*bp = text
	if err != nil {
		// What encode answers when json.Marshal refuses a status.
		return s.send(conn, Response{V: Version, Error: "cannot encode the answer: " + err.Error()})
	}
	line := encode(Response{V: Version, OK: true, Length: len(text)})
	conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	bufs := net.Buffers{line, text}
	_, err = bufs.WriteTo(conn)
	return err
}

// maxPooledText is the largest buffer Server.texts keeps.
const maxPooledText = 4 << 20

// errorResponse is the response for err: OK when err is nil.
func errorResponse(err error) Response {
	if err == nil {
		return Response{V: Version, OK: true}
	}
	return Response{V: Version, Error: err.Error()}
}

// encode marshals r as one line.
func encode(r Response) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only a bug can get here: every field marshals.
		b, _ = json.Marshal(Response{V: Version, Error: "cannot encode the answer: " + err.Error()})
	}
	return append(b, '\n')
}

// clientGone returns a channel closed when the client closes (or
// half-closes) its end of conn, or sends anything after its request, or conn
// is closed. The goroutine it starts ends with the connection.
func clientGone(conn net.Conn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		var b [1]byte
		conn.Read(b[:])
	}()
	return ch
}

// deadlineWriter writes to a connection, each Write within timeout.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.conn.Write(p)
}

// clients returns how many connections are being served.
func (s *Server) clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
