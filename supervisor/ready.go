package supervisor

import (
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/health"
)

// This file holds readiness notification: ready = "notify" (sd_notify
// datagrams on the daemon's NOTIFY_SOCKET, with an optional watchdog) and
// ready = "fd:N" (a newline on descriptor N, s6's notification-fd).

// notice is something a daemon said about its readiness, forwarded to the
// loop from the goroutine that reads its socket or pipe.
type notice struct {
	name string
	// pipe: a newline on the readiness pipe of process incarnation.
	pipe        bool
	incarnation uint64
	// msg: a notification datagram (merged when several came at once).
	msg health.NotifyMessage
}

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
	if s.notifyDir == "" {
		dir, err := os.MkdirTemp("", "ringsup-notify-")
		if err != nil {
			return nil, fmt.Errorf("cannot create notification directory: %w", err)
		}
		// Daemons that run as another user need to reach their socket.
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("cannot create notification directory: %w", err)
		}
		s.notifyDir = dir
	}
	sock, err := health.ListenNotify(filepath.Join(s.notifyDir, d.name+".sock"))
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
	name, notices, done := d.name, s.notices, s.done
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
	d.health.pipe = pipe
	name, inc, notices, done := d.name, d.health.incarnation, s.notices, s.done
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

// noticeReceived acts on what a daemon said: ready, or alive (watchdog).
func (s *Supervisor) noticeReceived(n notice) {
	d, ok := s.daemons[n.name]
	if !ok || d.rec.PID == 0 || d.rec.State == Stopping {
		return
	}
	now := time.Now()
	if n.pipe {
		if n.incarnation == d.health.incarnation && !d.health.ready {
			s.markReady(d)
		}
		return
	}
	// Datagrams from outside the daemon's process group (a process of an
	// earlier run, say) are not about this process.
	if n.msg.PID != 0 {
		if pgid, err := unix.Getpgid(int(n.msg.PID)); err != nil || pgid != d.rec.PID {
			s.log.Debug("notification from outside the daemon's group dropped", "daemon", d.name, "pid", n.msg.PID)
			return
		}
	}
	if n.msg.Status != "" {
		d.health.statusText = n.msg.Status
	}
	if (n.msg.Ready || n.msg.Watchdog) && d.cfg.Watchdog > 0 {
		d.health.watchdogAt = now.Add(d.cfg.Watchdog)
	}
	if n.msg.Ready && !d.health.ready {
		s.markReady(d)
	}
}

// watchdogMissed handles a daemon that did not send WATCHDOG=1 in time: it
// is unhealthy, and restarted unless its health check says "ignore".
func (s *Supervisor) watchdogMissed(d *daemon) {
	d.health.watchdogAt = time.Time{}
	err := fmt.Errorf("watchdog: no WATCHDOG=1 for %v", d.cfg.Watchdog)
	d.health.lastErr = err.Error()
	s.setHealth(d, healthUnhealthy, err.Error())
	if d.cfg.Health == nil || d.cfg.Health.OnUnhealthy == "restart" {
		s.unhealthy(d, fmt.Errorf("unhealthy: %w", err))
	}
}
