package health

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// connectReset connects to addr, trying each of its addresses in turn, and
// resets the connection. It is what net.Dialer does, less what a probe does
// not need (options, addresses, finalizers, the poller when the handshake is
// over before connect returns, as it usually is over loopback): it costs
// about half the CPU time.
func connectReset(ctx context.Context, addr string) error {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return connectAddr(ctx, ap)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := net.DefaultResolver.LookupPort(ctx, "tcp", port)
	if err != nil {
		return err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if err = connectAddr(ctx, netip.AddrPortFrom(ip, uint16(n))); err == nil || ctx.Err() != nil {
			break
		}
	}
	return err
}

// connectAddr connects to ap and resets the connection.
func connectAddr(ctx context.Context, ap netip.AddrPort) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fd, over, err := startConnect(ap)
	if over {
		return err
	}
	return awaitConnect(ctx, fd)
}

// startConnect begins to connect a new non-blocking socket to ap, with
// SO_LINGER 0 so that closing it resets the connection. When the attempt is
// over at once (over loopback it usually is: connected or refused) it closes
// the socket and returns over and the attempt's error; otherwise it returns
// the socket, still connecting.
func startConnect(ap netip.AddrPort) (fd int, over bool, err error) {
	family, sa, err := sockaddr(ap)
	if err != nil {
		return -1, true, err
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, true, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
		unix.Close(fd)
		return -1, true, os.NewSyscallError("setsockopt SO_LINGER", err)
	}
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EISCONN:
		unix.Close(fd)
		return -1, true, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	default:
		unix.Close(fd)
		return -1, true, os.NewSyscallError("connect", err)
	}
	if over, err := connected(fd); over {
		unix.Close(fd)
		return -1, true, err
	}
	return fd, false, nil
}

// awaitConnect waits in the runtime poller until the connection attempt of
// fd, from startConnect, is over or ctx is done, closes fd and returns the
// attempt's error.
func awaitConnect(ctx context.Context, fd int) error {
	f := os.NewFile(uintptr(fd), "tcp probe")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var cerr error
	if err := rc.Write(func(fd uintptr) bool {
		var over bool
		over, cerr = connected(int(fd))
		return over
	}); err != nil {
		return err
	}
	return cerr
}

// connected reports whether the connection attempt of the non-blocking
// socket fd is over, and if so its error. One poll(2) tells in the usual
// case: writable without error is connected, nothing yet is still
// connecting (SYN_SENT); only an error needs SO_ERROR.
func connected(fd int) (over bool, err error) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(pfd, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return true, os.NewSyscallError("poll", err)
		case n == 0:
			return false, nil
		}
		break
	}
	if pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) == 0 {
		return true, nil
	}
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return true, os.NewSyscallError("getsockopt SO_ERROR", err)
	case n == 0:
		return true, os.NewSyscallError("connect", unix.ECONNRESET) // hung up without an error
	}
	return true, os.NewSyscallError("connect", unix.Errno(n))
}

// sockaddr returns the socket family and address of ap.
func sockaddr(ap netip.AddrPort) (family int, sa unix.Sockaddr, err error) {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	}
	sa6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		if id, err := strconv.Atoi(zone); err == nil {
			sa6.ZoneId = uint32(id)
		} else if ifi, err := net.InterfaceByName(zone); err == nil {
			sa6.ZoneId = uint32(ifi.Index)
		} else {
			return 0, nil, err
		}
	}
	return unix.AF_INET6, sa6, nil
}
