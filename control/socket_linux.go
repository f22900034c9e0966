package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// probeTimeout bounds how long Listen waits for a supervisor already on the
// socket to answer a ping.
const probeTimeout = 2 * time.Second

// listen creates the socket at path: mode 0600, its directory created with
// mode 0700 if missing. It first takes the lock beside the socket (see
// lockSocket), which it returns, to be held as long as the socket lives. A
// socket file nobody listens on is replaced; a supervisor answering on it,
// or holding the lock, gives an *AlreadyRunningError.
func listen(path string) (*net.UnixListener, *os.File, error) {
	if len(path) > MaxPathLen {
		return nil, nil, &PathTooLongError{Path: path}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("cannot create the socket's directory: %w", err)
	}
	lock, err := lockSocket(path)
	if err != nil {
		return nil, nil, err
	}
	ln, err := listenLocked(path)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return ln, lock, nil
}

// lockSocket takes an exclusive flock on path+".lock" and writes the
// caller's pid into it. Two supervisors that find the same stale socket
// would otherwise both remove it and the second would take the socket from
// the first; with the lock, the second stops here. The file is left in
// place when the lock is released: removing it would let a third process
// lock a new file while the second still holds the old one.
func lockSocket(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the socket's lock: %w", unwrapErrno(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := 0
			if b, err := os.ReadFile(name); err == nil {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			return nil, &AlreadyRunningError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("cannot lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// listenLocked creates the socket; the caller holds the lock. It binds
// and listens under a temporary name beside path, restricts that socket
// to its owner, and only then renames it to path: a client that finds a
// socket at path can connect to it at once (no window between bind(2)
// and listen(2) in which it is refused), and the file never has the
// umask's mode. The rename replaces a stale socket; a supervisor
// answering on path, or a file that is not a socket, stops it.
func listenLocked(path string) (*net.UnixListener, error) {
	if _, err := os.Lstat(path); err == nil {
		if err := checkStale(path); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(filepath.Dir(path), "."+strconv.FormatUint(rand.Uint64()>>24, 36)+".sock")
	if len(tmp) > MaxPathLen {
		tmp = path // too long for a name of its own: bind in place
	}
	if tmp == path {
		_ = os.Remove(path) // a stale socket, checked above
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, unwrapErrno(err))
	}
	// Go would unlink the name it bound, tmp; whoever closes the
	// listener removes path.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("cannot restrict the socket to its owner: %w", err))
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail(fmt.Errorf("cannot listen on %s: %w", path, unwrapErrno(err)))
		}
	}
	return ln, nil
}

// checkStale returns nil if the file at path is a socket nobody listens
// on, which the new socket may replace. If a supervisor answers on it, it
// returns an *AlreadyRunningError.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("cannot listen on %s: a file that is not a socket is in the way", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	pid, err := (&Client{Path: path, Timeout: probeTimeout}).Ping(ctx)
	var notListening *NotListeningError
	switch {
	case err == nil:
		return &AlreadyRunningError{Path: path, PID: pid}
	case errors.As(err, &notListening):
		return nil
	default:
		return fmt.Errorf("cannot listen on %s: another process has it open and does not answer as a supervisor: %w", path, err)
	}
}

// peerUID returns the uid and pid of the process at the other end of conn
// (SO_PEERCRED: the credentials it had when it connected).
func peerUID(conn *net.UnixConn) (uid, pid int, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if credErr != nil {
		return 0, 0, fmt.Errorf("cannot read peer credentials: %w", credErr)
	}
	return int(cred.Uid), int(cred.Pid), nil
}

// unwrapErrno returns the syscall.Errno inside err, if any, so that messages
// read "permission denied" rather than repeating the operation and path.
func unwrapErrno(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
