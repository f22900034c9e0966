package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// testDaemon runs the test binary as a daemon of a test config, selected by
// RINGSUP_TEST_DAEMON. Each writes its pid to <name>.pid in its working
// directory (RINGSUP_DAEMON is its name) once it has said it is ready.
func testDaemon(mode string) int {
	name := os.Getenv("RINGSUP_DAEMON")
	markReady := func() {
		os.WriteFile(name+".ready", nil, 0o644)
	}
	writePID := func() {
		os.WriteFile(name+".pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	}
	switch mode {
	case "notify", "notify-no-watchdog":
		// Ready after a while, over $NOTIFY_SOCKET; then alive every
		// 50ms, unless told to fall silent.
		time.Sleep(300 * time.Millisecond)
		conn, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		markReady()
		writePID()
		fmt.Fprint(conn, "STATUS=serving\nREADY=1\n")
		for {
			time.Sleep(50 * time.Millisecond)
			if mode == "notify" {
				fmt.Fprint(conn, "WATCHDOG=1")
			}
		}
	case "fd":
		// Ready after a while, by a newline on descriptor $READY_FD.
		time.Sleep(300 * time.Millisecond)
		fd, _ := strconv.Atoi(os.Getenv("READY_FD"))
		markReady()
		writePID()
		if _, err := unix.Write(fd, []byte("ok\n")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		unix.Close(fd)
		select {}
	case "tcp-floor":
		return tcpFloor(os.Getenv("PROBE_ADDR"))
	}
	if code, ok := faultDaemon(mode); ok {
		return code
	}
	fmt.Fprintf(os.Stderr, "unknown test daemon %q\n", mode)
	return 2
}

// tcpFloor is the floor of BenchmarkProbeCPU: what 1000 tcp probes a
// second to addr cost without a supervisor. Every 100ms it makes 100 of
// them with bare system calls on one thread: socket, SO_LINGER 0 (as the
// prober, which leaves no TIME_WAIT socket), a blocking connect, close.
func tcpFloor(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	runtime.LockOSThread()
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	for tick := time.Tick(100 * time.Millisecond); ; <-tick {
		for range 100 {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				err = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			}
			if err == nil {
				err = unix.Connect(fd, sa)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			unix.Close(fd)
		}
	}
}
