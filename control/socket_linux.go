package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// probeTimeout bounds how long Listen waits for a supervisor already on the
// socket to answer a ping.
const probeTimeout = 2 * time.Second

// listen creates the socket at path: mode 0600, its directory created with
// mode 0700 if missing. A socket file nobody listens on is replaced; a
// supervisor answering on it gives an *AlreadyRunningError.
func listen(path string) (*net.UnixListener, error) {
	if len(path) > MaxPathLen {
		return nil, &PathTooLongError{Path: path}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the socket's directory: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if errors.Is(err, syscall.EADDRINUSE) {
		if err := removeStale(path); err != nil {
			return nil, err
		}
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, unwrapErrno(err))
	}
	// bind(2) created the file with the umask's mode; until this chmod the
	// peer credential check is what keeps others out.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cannot restrict the socket to its owner: %w", err)
	}
	return ln, nil
}

// removeStale removes the file at path if it is a socket nobody listens on.
// If a supervisor answers on it, it returns an *AlreadyRunningError.
func removeStale(path string) error {
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
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot remove stale socket %s: %w", path, err)
		}
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
