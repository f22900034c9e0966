package main

import (
	"fmt"
	"net"
	"os"
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
	}
	if code, ok := faultDaemon(mode); ok {
		return code
	}
	fmt.Fprintf(os.Stderr, "unknown test daemon %q\n", mode)
	return 2
}
