package top

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"sync"
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

// procSampler reads the CPU and memory of process groups from /proc.
// Its methods may be called from any goroutine.
type procSampler struct {
	mu sync.Mutex
	// files holds the stat files kept open, by pid, of the processes in
	// groups of interest: read again with pread, they spare an open and a
	// close, and the kernel's lookup of the path.
	files  map[int]int
	closed bool
	// foreign holds the process group of the processes last seen in no
	// group of interest. They are skipped while their group is still of
	// no interest, and read again every rescanEvery passes, in case a pid
	// was reused or a process changed groups.
	foreign map[int]int
	passes  int
}

// rescanEvery is how often a sampler reads every process again.
const rescanEvery = 30

// maxOpenStats bounds the stat files a sampler keeps open.
const maxOpenStats = 4096

// close closes the files the sampler keeps open; it opens no more.
func (ps *procSampler) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, fd := range ps.files {
		unix.Close(fd)
	}
	ps.files = nil
	ps.closed = true
}

// sample reads /proc once: the usage of the process groups in groups, and
// of the processes in pids. It is the only place the view reads /proc,
// once a second while it is open. With thousands of processes its cost is
// the system calls, so it makes no more than it must: the directory is
// read with getdents into one buffer, each stat file is opened relative to
// it and kept open while its process is of interest, and processes of
// other groups are skipped until the next rescan.
func (ps *procSampler) sample(groups map[int]bool, pids []int) sampleMsg {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s := sampleMsg{At: time.Now(), Groups: map[int]usage{}, Procs: map[int]usage{}}
	if ps.closed {
		return s
	}
	rescan := ps.passes%rescanEvery == 0 || ps.foreign == nil
	ps.passes++
	seen := make(map[int]int, len(ps.foreign))
	files := make(map[int]int, len(ps.files))
	defer func() {
		for pid, fd := range ps.files {
			if _, ok := files[pid]; !ok {
				unix.Close(fd) // gone, or of no interest now
			}
		}
		ps.files = files
	}()
	proc, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return s
	}
	defer unix.Close(proc)
	page := int64(os.Getpagesize())
	stat := make([]byte, 1024)
	dents := make([]byte, 32<<10)
	path := make([]byte, 0, 32)
	for {
		n, err := unix.Getdents(proc, dents)
		if err != nil || n <= 0 {
			break
		}
		for b := dents[:n]; len(b) > 0; {
			// struct linux_dirent64: ino, off, reclen (2 bytes), type, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			name := b[19:reclen]
			b = b[reclen:]
			pid := 0
			for _, c := range name {
				if c == 0 {
					break
				}
				if c < '0' || c > '9' {
					pid = -1
					break
				}
				pid = pid*10 + int(c-'0')
			}
			if pid <= 0 {
				continue // not a process
			}
			if pg, ok := ps.foreign[pid]; ok && !rescan && !groups[pg] {
				seen[pid] = pg
				continue
			}
			fd, ok := ps.files[pid]
			if !ok {
				path = strconv.AppendInt(path[:0], int64(pid), 10)
				path = append(path, "/stat"...)
				if fd, err = unix.Openat(proc, string(path), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
					continue // exited meanwhile, or not readable
				}
			}
			pgrp, u, ok := readStat(fd, stat, page)
			mine := slices.Contains(pids, pid)
			if ok && (mine || groups[pgrp]) && len(files) < maxOpenStats {
				files[pid] = fd
			} else {
				unix.Close(fd)
				delete(ps.files, pid)
			}
			if !ok {
				continue // exited meanwhile: a dead process's file says ESRCH
			}
			if mine {
				s.Procs[pid] = u
			}
			if groups[pgrp] {
				g := s.Groups[pgrp]
				g.Ticks += u.Ticks
				g.RSS += u.RSS
				s.Groups[pgrp] = g
			} else if !mine {
				seen[pid] = pgrp
			}
		}
	}
	ps.foreign = seen
	return s
}

// readStat returns the process group and usage in the stat file open as
// fd.
func readStat(fd int, buf []byte, page int64) (pgrp int, u usage, ok bool) {
	n, err := unix.Pread(fd, buf, 0)
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
