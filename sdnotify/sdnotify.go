// Package sdnotify speaks the sd_notify(3) protocol to the service manager
// that started this process (systemd with Type=notify): state lines such
// as "READY=1" sent as datagrams to the unix socket named by
// $NOTIFY_SOCKET.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends state lines to the service manager. Its methods may be
// called from any goroutine.
type Notifier struct {
	conn *net.UnixConn
	// Watchdog is how often the manager wants "WATCHDOG=1": half of
	// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; 0 when the
	// manager does not watch this process.
	Watchdog time.Duration
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, or nil when it is not
// set. It unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID in any case,
// so that the processes this one starts do not talk to the manager by
// mistake. A socket path starting with "@" is in the abstract namespace.
func FromEnv() (*Notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	usec, pid := os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "@") {
		return nil, fmt.Errorf("cannot use NOTIFY_SOCKET %q: want an absolute path or @name", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NOTIFY_SOCKET: %w", err)
	}
	n := &Notifier{conn: conn}
	if usec != "" && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		u, err := strconv.ParseUint(usec, 10, 64)
		if err != nil || u == 0 {
			conn.Close()
			return nil, fmt.Errorf("cannot use WATCHDOG_USEC %q: want a positive number", usec)
		}
		n.Watchdog = time.Duration(u) * time.Microsecond / 2
	}
	return n, nil
}

// Send sends the state lines as one datagram.
func (n *Notifier) Send(lines ...string) error {
	if n == nil {
		return errors.New("no service manager")
	}
	_, err := n.conn.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return err
}

// MonotonicUsec is the "MONOTONIC_USEC=..." line that goes with
// "RELOADING=1": CLOCK_MONOTONIC now, in microseconds.
func MonotonicUsec() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return "MONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
}

// WatchdogInterval is n.Watchdog, or 0 for a nil n.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.Watchdog
}

// Close closes the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	return n.conn.Close()
}
