package supervisor

import (
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/ringrift/ringsup/health"
)

// This file holds readiness notification: ready = "notify" (sd_notify
// datagrams on the daemon's NOTIFY_SOCKET, with an optional watchdog) and
// ready = "fd:N" (a newline on descriptor N, s6's notification-fd).

// prepareReadiness sets up d's readiness channel for a new process: it adds
// NOTIFY_SOCKET to spec's environment, or the pipe's write end to its
// descriptors. The returned pipe, if any, must be handed to readyStarted
// after the spawn, or closed.
func (s *Supervisor) prepareReadiness(d *daemon, env map[string]string, extra map[int]*os.File) (*health.ReadyPipe, error) {
	if d.cfg.Ready == "" {
		return nil, nil
	}
	kind, fd, err := health.ParseReady(d.cfg.Ready)
	switch {
	case err != nil:
		return nil, err
	case kind == health.ReadyNotify:
		sock, err := s.notifySocket(d)
		if err != nil {
			return nil, err
		}
		maps.Copy(env, sock.Env(d.cfg.Watchdog))
	case fd > 0:
		pipe, err := health.NewReadyPipe()
		if err != nil {
			return nil, err
		}
		extra[fd] = pipe.ChildEnd()
		return pipe, nil
	}
	return nil, nil
}

// notifySocket returns d's notification socket, creating it (and the
// directory of the supervisor's sockets) the first time. It lives as long
// as the daemon: every process of the daemon sends to the same path.
func (s *Supervisor) notifySocket(d *daemon) (*health.NotifySocket, error) {
	if d.notify != nil {
		return d.notify, nil
	}
	if s.notify.dir == "" {
		dir, err := os.MkdirTemp("", "ringsup-notify-")
		if err != nil {
			return nil, fmt.Errorf("cannot create notification directory: %w", err)
		}
		// Daemons that run as another user need to reach their socket.
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("cannot create notification directory: %w", err)
		}
		s.notify.dir = dir
	}
	sock, err := health.ListenNotify(filepath.Join(s.notify.dir, d.name+".sock"))
	if err != nil {
		return nil, err
	}
	if d.cfg.User != "" {
		if err := chownToUser(sock, d.cfg.User); err != nil {
			sock.Close()
			return nil, err
		}
	}
	d.notify = sock
	name, notices, done := d.name, s.notify.notices, s.done
	go func() {
		for msg := range sock.Messages() {
			select {
			case notices <- notice{name: name, msg: msg}:
			case <-done:
				return
			}
		}
	}()
	return sock, nil
}

func chownToUser(sock *health.NotifySocket, name string) error {
	uid, gid, err := lookupUser(name)
	if err != nil {
		return err
	}
	return sock.Chown(uid, gid)
}

// lookupUser returns the uid and gid of a user given by name or number.
func lookupUser(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return 0, 0, fmt.Errorf("cannot find user %q: %w", name, err)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// readyStarted watches the readiness pipe of d's new process.
func (s *Supervisor) readyStarted(d *daemon, pipe *health.ReadyPipe) {
	pipe.CloseChildEnd()
	d.pipe = pipe
	name, inc, notices, done := d.name, d.health.Incarnation, s.notify.notices, s.done
	go func() {
		select {
		case <-pipe.Ready():
		case <-pipe.Done():
			return
		}
		select {
		case notices <- notice{name: name, pipe: true, incarnation: inc}:
		case <-done:
		}
	}()
}
