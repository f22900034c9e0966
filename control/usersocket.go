package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// This file serves the control sockets of daemons that run as another
// user. Such a daemon cannot open the supervisor's socket (mode 0600, and
// the peer credential check refuses its uid), so it gets one of its own:
// owned by its user, mode 0600, in a directory others may cross but not
// list, and serving only emit, events and ping. The source of what it
// publishes is still found from the publisher's process group.

// daemonRole says whose socket a connection came in on.
type daemonRole struct {
	daemon string
	uid    int // the daemon's user, served besides root and the supervisor's
}

// daemonCommand reports whether cmd is served on a daemon's own socket.
func daemonCommand(cmd string) bool {
	return slices.Contains([]string{CmdPing, CmdEmit, CmdEvents}, cmd)
}

// UserSockets opens the sockets of daemons that run as another user, for
// the Server it is given to (Options.UserSockets). It implements
// supervisor.DaemonSockets; make it with &UserSockets{}, hand it to both.
type UserSockets struct {
	mu  sync.Mutex
	srv *Server
}

func (u *UserSockets) attach(s *Server) {
	u.mu.Lock()
	u.srv = s
	u.mu.Unlock()
}

func (u *UserSockets) server() (*Server, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.srv == nil {
		return nil, errors.New("no control server")
	}
	return u.srv, nil
}

// Open creates the socket of daemon name, which runs as uid and gid, and
// serves it; it returns its path.
func (u *UserSockets) Open(name string, uid, gid int) (string, error) {
	s, err := u.server()
	if err != nil {
		return "", fmt.Errorf("cannot open the socket of %q: %w", name, err)
	}
	return s.openDaemonSocket(name, uid, gid)
}

// Close closes the socket of daemon name and removes its file.
func (u *UserSockets) Close(name string) {
	if s, err := u.server(); err == nil {
		s.closeDaemonSocket(name)
	}
}

func (s *Server) openDaemonSocket(name string, uid, gid int) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("cannot open the socket of %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail(errors.New("the control server is closed"))
	}
	if old := s.daemonLns[name]; old != nil {
		old.Close() // its file is replaced below
		delete(s.daemonLns, name)
	}
	if s.daemonDir == "" {
		dir, err := os.MkdirTemp("", "ringsup-daemons-")
		if err != nil {
			return fail(err)
		}
		// Daemons of other users reach their socket through it.
		if err := os.Chmod(dir, 0o711); err != nil {
			os.Remove(dir)
			return fail(err)
		}
		s.daemonDir = dir
	}
	path := filepath.Join(s.daemonDir, name+".sock")
	// The directory is this server's own (MkdirTemp): no other supervisor
	// can race for the socket, so it needs no lock beside it.
	ln, err := listenLocked(path)
	if err != nil {
		return fail(err)
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		ln.Close()
		return fail(err)
	}
	if s.daemonLns == nil {
		s.daemonLns = make(map[string]*net.UnixListener)
	}
	s.daemonLns[name] = ln
	s.wg.Add(1)
	go s.accept(ln, &daemonRole{daemon: name, uid: uid})
	return path, nil
}

func (s *Server) closeDaemonSocket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln := s.daemonLns[name]; ln != nil {
		ln.Close()
		os.Remove(filepath.Join(s.daemonDir, name+".sock"))
		delete(s.daemonLns, name)
	}
}

// closeDaemonSockets closes every daemon's socket and removes their
// directory; Close calls it.
func (s *Server) closeDaemonSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ln := range s.daemonLns {
		ln.Close()
		delete(s.daemonLns, name)
	}
	if s.daemonDir != "" {
		os.RemoveAll(s.daemonDir)
	}
}
