package health

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest path a unix socket can be bound to: sun_path
// holds 108 bytes, the terminating NUL included.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// NotifySocket is a daemon's notification socket: a unix datagram socket
// whose path the daemon gets as NOTIFY_SOCKET (see [NotifySocket.Env]) and
// sends sd_notify(3) messages to. One goroutine reads it, waiting in the
// runtime poller with no buffer while the daemon is quiet.
//
// The socket file has mode 0600 from the moment it exists (it is never
// writable by others, not even briefly), and belongs to the supervisor: a
// daemon that runs as another user needs [NotifySocket.Chown], and search
// permission on the directories above the socket.
type NotifySocket struct {
	path     string
	f        *os.File
	dev, ino uint64 // of the socket file, so that Close removes only its own
	msgs     chan NotifyMessage
	done     chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// notifyBuf is what one read of a datagram needs.
type notifyBuf struct {
	data [MaxNotifySize]byte
	oob  []byte
}

// notifyBufs holds the read buffers: a reader takes one only while its
// socket is readable, so a thousand quiet daemons hold none. The room for
// control messages fits the sender's credentials and a few descriptors
// (closed at once; the kernel drops those that do not fit).
var notifyBufs = sync.Pool{New: func() any {
	return &notifyBuf{oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(16*4))}
}}

// ListenNotify creates a notification socket at path (made absolute: a
// daemon's working directory is not the supervisor's) and starts reading
// it. A socket file already at path is replaced, such as one left by a
// supervisor that was killed, or the socket of the daemon's previous run;
// any other kind of file is an error. A path longer than a socket address
// can hold is an error that reads `cannot listen on /x/...: socket path too
// long (120 > 107 bytes)`.
//
// The socket asks for the credentials of each sender (SO_PASSCRED), so every
// message carries the PID of the process that sent it.
func ListenNotify(path string) (*NotifySocket, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	if len(abs) > maxSocketPath {
		return nil, fmt.Errorf("cannot listen on %s: socket path too long (%d > %d bytes)", abs, len(abs), maxSocketPath)
	}
	fail := func(err error) (*NotifySocket, error) {
		return nil, fmt.Errorf("cannot listen on %s: %w", abs, err)
	}
	switch fi, err := os.Lstat(abs); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fail(err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fail(errors.New("a file that is not a socket is in the way"))
	default:
		if err := os.Remove(abs); err != nil {
			return fail(err)
		}
	}
	fd, st, err := bindNotify(abs)
	if err != nil {
		return fail(err)
	}
	f := os.NewFile(uintptr(fd), abs) // non-blocking: registered with the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		os.Remove(abs)
		return fail(err)
	}
	s := &NotifySocket{
		path: abs,
		f:    f,
		dev:  st.Dev,
		ino:  st.Ino,
		msgs: make(chan NotifyMessage, 1),
		done: make(chan struct{}),
	}
	go s.read(rc)
	return s, nil
}

// bindNotify returns a socket bound to path, with mode 0600 and SO_PASSCRED,
// and the file's status.
func bindNotify(path string) (fd int, st unix.Stat_t, err error) {
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, st, os.NewSyscallError("socket", err)
	}
	// bind gives the file the mode of the socket, less the umask.
	if err = unix.Fchmod(fd, 0o600); err != nil {
		err = os.NewSyscallError("fchmod", err)
	} else if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		err = os.NewSyscallError("setsockopt SO_PASSCRED", err)
	} else if err = unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		err = os.NewSyscallError("bind", err)
	} else if err = unix.Lstat(path, &st); err != nil {
		os.Remove(path)
		err = &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}

// Path returns the absolute path of the socket: the value of NOTIFY_SOCKET.
func (s *NotifySocket) Path() string { return s.path }

// Env returns the environment that tells a daemon to notify this socket:
// NOTIFY_SOCKET and, when watchdog is positive, WATCHDOG_USEC (in
// microseconds), without which sd_watchdog_enabled(3) reports no watchdog
// and libsystemd-based daemons send no WATCHDOG=1. WATCHDOG_PID is not set,
// since the PID is not known before the daemon starts.
func (s *NotifySocket) Env(watchdog time.Duration) map[string]string {
	env := map[string]string{"NOTIFY_SOCKET": s.path}
	if watchdog > 0 {
		env["WATCHDOG_USEC"] = strconv.FormatInt(watchdog.Microseconds(), 10)
	}
	return env
}

// Chown gives the socket file to uid and gid, so that a daemon that runs as
// that user may send to it (the mode stays 0600).
func (s *NotifySocket) Chown(uid, gid int) error {
	if err := os.Lchown(s.path, uid, gid); err != nil {
		return fmt.Errorf("cannot chown notification socket: %w", err)
	}
	return nil
}

// Messages returns the channel on which the socket delivers what the daemon
// says, one message per datagram. Datagrams larger than [MaxNotifySize]
// bytes are dropped, as are those with no KEY=VALUE line.
//
// The reader never waits for the consumer. The channel holds one message;
// while it is full, each new datagram is merged into the pending message
// ([NotifyMessage.Merge]) instead of waiting or being queued: flags
// accumulate, and the latest Status and Fields win. So a slow consumer
// misses no READY=1 or WATCHDOG=1, memory stays bounded whatever the daemon
// sends, and the daemon never blocks in sd_notify.
//
// The channel is closed after [NotifySocket.Close] (a pending message is
// still received first), or if reading the socket fails.
func (s *NotifySocket) Messages() <-chan NotifyMessage { return s.msgs }

// Close closes the socket, waits for its reader to end, and removes the
// socket file unless another socket has replaced it since. Later calls do
// nothing and return the same error.
func (s *NotifySocket) Close() error {
	s.closeOnce.Do(func() {
		err := s.f.Close()
		<-s.done
		var st unix.Stat_t
		if unix.Lstat(s.path, &st) == nil && st.Dev == s.dev && st.Ino == s.ino {
			if rerr := os.Remove(s.path); err == nil {
				err = rerr
			}
		}
		if err != nil {
			s.closeErr = fmt.Errorf("cannot close notification socket: %w", err)
		}
	})
	return s.closeErr
}

// read delivers the datagrams of the socket until it is closed.
func (s *NotifySocket) read(rc syscall.RawConn) {
	defer close(s.done)
	defer close(s.msgs)
	for {
		failed := false
		err := rc.Read(func(fd uintptr) bool {
			buf := notifyBufs.Get().(*notifyBuf)
			defer notifyBufs.Put(buf)
			for {
				n, oobn, flags, _, err := unix.Recvmsg(int(fd), buf.data[:], buf.oob[:], unix.MSG_CMSG_CLOEXEC)
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false // wait in the poller, buffer returned
				case err != nil:
					failed = true
					return true
				}
				pid := credentials(buf.oob[:oobn])
				if flags&unix.MSG_TRUNC != 0 {
					continue // larger than MaxNotifySize
				}
				if m, ok := ParseNotify(buf.data[:n]); ok {
					m.PID = pid
					s.deliver(m)
				}
			}
		})
		if err != nil || failed {
			return
		}
	}
}

// deliver sends m, merged into the pending message if there is one.
func (s *NotifySocket) deliver(m NotifyMessage) {
	select {
	case pending := <-s.msgs:
		m = pending.Merge(m)
	default:
	}
	s.msgs <- m // never blocks: read is the only sender, and the channel is empty now
}

// credentials returns the sender's PID from the control messages of a
// datagram, and closes any descriptor the sender passed.
func credentials(oob []byte) int32 {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	var pid int32
	for _, c := range cmsgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(&c); err == nil {
				pid = cred.Pid
			}
		case unix.SCM_RIGHTS:
			fds, _ := unix.ParseUnixRights(&c)
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}
	return pid
}
