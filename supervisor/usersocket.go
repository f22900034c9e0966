package supervisor

// This file gives the daemons a control socket they can open: the
// supervisor's own, or, for a daemon that runs as another user (which the
// supervisor's 0600 socket refuses), a socket of its own.

// SocketEnv is the environment variable that gives every daemon and hook
// the absolute path of the control socket it may use; `ringsup ctl` reads
// it, so `ringsup ctl emit` works from inside a daemon with no flags.
const SocketEnv = "RINGSUP_SOCKET"

// DaemonSockets opens the control sockets of daemons that run as another
// user. Such a socket belongs to the daemon's user (mode 0600), and serves
// only what a daemon needs: publishing and subscribing to events.
type DaemonSockets interface {
	// Open returns the path of a new socket for the daemon name, which
	// runs as uid and gid. The loop calls it before the daemon's first
	// start, and again if its user changes.
	Open(name string, uid, gid int) (string, error)
	// Close closes the socket of the daemon name, if it has one.
	Close(name string)
}

// userSocket is a daemon's own control socket.
type userSocket struct {
	path string
	uid  int
}

// socketFor returns the control socket d is told about in SocketEnv:
// its own when it runs as another user and Options.DaemonSockets can make
// one, the supervisor's otherwise.
func (s *Supervisor) socketFor(d *daemon) string {
	main := s.cfg.Supervisor.Socket
	if d.cfg.User == "" || s.opts.DaemonSockets == nil {
		return main
	}
	uid, gid, err := lookupUser(d.cfg.User)
	if err != nil {
		return main // the spawn fails on the same lookup, and says so
	}
	if us, ok := s.emits.sockets[d.name]; ok {
		if us.uid == uid {
			return us.path
		}
		s.closeUserSocket(d.name)
	}
	path, err := s.opts.DaemonSockets.Open(d.name, uid, gid)
	if err != nil {
		s.log.Error("cannot open the daemon's control socket; it cannot publish events", "daemon", d.name, "error", err)
		return main
	}
	if s.emits.sockets == nil {
		s.emits.sockets = make(map[string]userSocket)
	}
	s.emits.sockets[d.name] = userSocket{path: path, uid: uid}
	return path
}

// closeUserSocket closes the own socket of the daemon name, if it has one.
func (s *Supervisor) closeUserSocket(name string) {
	if _, ok := s.emits.sockets[name]; ok {
		s.opts.DaemonSockets.Close(name)
		delete(s.emits.sockets, name)
	}
}

func (s *Supervisor) closeUserSockets() {
	for name := range s.emits.sockets {
		s.closeUserSocket(name)
	}
}
