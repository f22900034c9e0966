package top

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// usage is the CPU time and resident memory of a process or of a process
// group, at one moment.
type usage struct {
	Ticks uint64 // user + system CPU time, in clockTicks
	RSS   int64  // resident set size, bytes
}

// sampleMsg is one pass over /proc: the usage of every process group, and
// of the processes asked for by pid.
type sampleMsg struct {
	At     time.Time
	Groups map[int]usage
	Procs  map[int]usage
}

// sampleProc reads /proc/*/stat once. It is the only place the view reads
// /proc, once a second while it is open.
func sampleProc(pids []int) sampleMsg {
	s := sampleMsg{At: time.Now(), Groups: map[int]usage{}, Procs: map[int]usage{}}
	dir, err := os.Open("/proc")
	if err != nil {
		return s
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	page := int64(os.Getpagesize())
	buf := make([]byte, 1024)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue // not a process
		}
		pgrp, u, ok := readStat("/proc/"+name+"/stat", buf, page)
		if !ok {
			continue // exited meanwhile, or not readable
		}
		g := s.Groups[pgrp]
		g.Ticks += u.Ticks
		g.RSS += u.RSS
		s.Groups[pgrp] = g
		if slices.Contains(pids, pid) {
			s.Procs[pid] = u
		}
	}
	return s
}

// readStat returns the process group and usage in the stat file at path.
// It calls the system directly: os.Open would also try to register the
// file with the poller, a system call more for each of thousands of
// files a second.
func readStat(path string, buf []byte, page int64) (pgrp int, u usage, ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, u, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0, u, false
	}
	return parseStat(buf[:n], page)
}

// parseStat parses a /proc/PID/stat line (proc(5)): the fields after the
// command name, which is in parentheses and may hold anything.
func parseStat(b []byte, page int64) (pgrp int, u usage, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, u, false
	}
	// Field 3 (state) follows the name; pgrp is field 5, utime 14, stime
	// 15, rss 24.
	var vals [25]uint64
	field := 2
	for _, c := range b[i+1:] {
		if c == ' ' {
			if field++; field > 24 {
				break
			}
		} else if c >= '0' && c <= '9' {
			vals[field] = vals[field]*10 + uint64(c-'0')
		}
	}
	if field < 24 {
		return 0, u, false
	}
	return int(vals[5]), usage{Ticks: vals[14] + vals[15], RSS: int64(vals[24]) * page}, true
}
