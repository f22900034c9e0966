package supervisor

import "github.com/hashicorp/go-hclog"

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

// userSockets are the daemons' own control sockets, by daemon name, which
// open opened.
type userSockets map[string]userSocket

// socketFor returns the control socket the daemon name, which runs as
// user, is told about in SocketEnv: its own when user is not "" and open
// (Options.DaemonSockets) can make one, main (the supervisor's) otherwise.
func (us *userSockets) socketFor(open DaemonSockets, log hclog.Logger, main, name, user string) string {
	if user == "" || open == nil {
		return main
	}
	uid, gid, err := lookupUser(user)
	if err != nil {
		return main // the spawn fails on the same lookup, and says so
	}
	if u, ok := (*us)[name]; ok {
		if u.uid == uid {
			return u.path
		}
		us.close(open, name)
	}
	path, err := open.Open(name, uid, gid)
	if err != nil {
		log.Error("cannot open the daemon's control socket; it cannot publish events", "daemon", name, "error", err)
		return main
	}
	if *us == nil {
		*us = make(userSockets)
	}
	(*us)[name] = userSocket{path: path, uid: uid}
	return path
}

// close closes the own socket of the daemon name, if it has one.
func (us userSockets) close(open DaemonSockets, name string) {
	if _, ok := us[name]; ok {
		open.Close(name)
		delete(us, name)
	}
}

// closeAll closes every daemon's own socket.
func (us userSockets) closeAll(open DaemonSockets) {
	for name := range us {
		us.close(open, name)
	}
}
