package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// connOwner returns the key in pids of the process that holds the other
// end of c, a connection accepted on loopback; false when none does (or
// it is gone). It finds the dialer's socket in /proc/net/tcp (its local
// address is c's remote one and the other way round), then that socket's
// inode among each process's descriptors.
func connOwner(c net.Conn, pids map[int]int) (int, bool) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, false
	}
	inode := socketInode(procTCPAddr(remote), procTCPAddr(local))
	if inode == "" {
		return 0, false
	}
	want := "socket:[" + inode + "]"
	for key, pid := range pids {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && l == want {
				return key, true
			}
		}
	}
	return 0, false
}

// procTCPAddr spells an IPv4 address as /proc/net/tcp does: the address
// in host (little-endian) byte order, then the port, both in hex.
func procTCPAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], a.Port)
}

// socketInode returns the inode of the IPv4 TCP socket from local to
// remote, or "".
func socketInode(local, remote string) string {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == local && fields[2] == remote {
			return fields[9]
		}
	}
	return ""
}
