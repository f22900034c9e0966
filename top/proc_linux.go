package top

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"time"
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
func readStat(path string, buf []byte, page int64) (pgrp int, u usage, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, u, false
	}
	n, _ := f.Read(buf)
	f.Close()
	return parseStat(buf[:n], page)
}

// parseStat parses a /proc/PID/stat line (proc(5)): the fields after the
// command name, which is in parentheses and may hold anything.
func parseStat(b []byte, page int64) (pgrp int, u usage, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, u, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): pgrp is 5, utime 14, stime 15, rss 24.
	if len(f) < 22 {
		return 0, u, false
	}
	pg, err1 := strconv.Atoi(string(f[2]))
	ut, err2 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err3 := strconv.ParseUint(string(f[12]), 10, 64)
	rss, err4 := strconv.ParseInt(string(f[21]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return 0, u, false
	}
	return pg, usage{Ticks: ut + st, RSS: rss * page}, true
}
