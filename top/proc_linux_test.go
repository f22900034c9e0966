package top

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := []byte("4301 (my (odd) name) S 1 4300 4300 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 1234 10000000 768 18446744073709551615\n")
	pgrp, u, ok := parseStat(line, 4096)
	if !ok || pgrp != 4300 || u.Ticks != 200 || u.RSS != 768*4096 {
		t.Errorf("parseStat = %d, %+v, %v; want 4300, {200 %d}, true", pgrp, u, ok, 768*4096)
	}
	if _, _, ok := parseStat([]byte("4301 (cut"), 4096); ok {
		t.Error("parseStat of a cut line = ok")
	}
}

// TestSampleProc reads the real /proc: this test's own process group and
// process are in it, with some memory; a group of no interest is left
// out, and read again once it is of interest.
func TestSampleProc(t *testing.T) {
	pid, pgrp := os.Getpid(), syscall.Getpgrp()
	var ps procSampler
	s := ps.sample(map[int]bool{pgrp: true}, []int{pid})
	if s.Procs[pid].RSS <= 0 {
		t.Errorf("RSS of this process = %d", s.Procs[pid].RSS)
	}
	if g := s.Groups[pgrp]; g.RSS < s.Procs[pid].RSS {
		t.Errorf("RSS of its group = %d, less than the process's %d", g.RSS, s.Procs[pid].RSS)
	}
	if s := ps.sample(nil, nil); len(s.Groups) != 0 {
		t.Errorf("groups of no interest were read: %v", s.Groups)
	}
	if s := ps.sample(map[int]bool{pgrp: true}, nil); s.Groups[pgrp].RSS <= 0 {
		t.Errorf("the group, of interest again, is not read: %v", s.Groups)
	}
	// Read again through the files it keeps open.
	if s := ps.sample(map[int]bool{pgrp: true}, nil); s.Groups[pgrp].RSS <= 0 || len(ps.files) == 0 {
		t.Errorf("second read: %v, %d files open", s.Groups, len(ps.files))
	}
	ps.close()
	if s := ps.sample(map[int]bool{pgrp: true}, nil); len(s.Groups) != 0 || ps.files != nil {
		t.Errorf("a closed sampler read %v", s.Groups)
	}
}

// TestSampleDeadProcess: the stat file kept open for a process that exits
// is closed, and its pid is no longer counted.
func TestSampleDeadProcess(t *testing.T) {
	var ps procSampler
	defer ps.close()
	sp := procexec.NewSpawner()
	defer sp.Close()
	p, err := sp.Spawn(procexec.Spec{Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID
	groups := map[int]bool{pid: true}
	// Right after exec the process has touched no page yet (RSS 0):
	// sample until it has.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		s := ps.sample(groups, nil)
		if s.Groups[pid].RSS > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new group is not read in 30s: %v", s.Groups)
		}
	}
	fd := ps.files[pid]
	p.Signal(syscall.SIGKILL)
	// Reaped: its pid is gone from /proc, as it is once the supervisor
	// reaps a daemon.
	deadline := time.Now().Add(30 * time.Second)
	for gone := false; !gone; {
		if time.Now().After(deadline) {
			t.Fatal("the killed sleep was not reaped in 30s")
		}
		exits, err := procexec.Reap()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range exits {
			gone = gone || x.PID == pid
		}
		time.Sleep(time.Millisecond)
	}
	if s := ps.sample(groups, nil); len(s.Groups) != 0 {
		t.Errorf("a dead group is read: %v", s.Groups)
	}
	if _, open := ps.files[pid]; open {
		t.Error("the dead process's file is still kept")
	}
	// The fd's number may have been taken again since: look at its file.
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && link == fmt.Sprintf("/proc/%d/stat", pid) {
		t.Errorf("fd %d is still open on %s", fd, link)
	}
}

// BenchmarkSampleProc is the pass over /proc the view makes once a second,
// for the group of this process, after the first pass; its cost grows
// with the processes on the machine.
func BenchmarkSampleProc(b *testing.B) {
	var ps procSampler
	groups := map[int]bool{syscall.Getpgrp(): true}
	pids := []int{os.Getpid()}
	ps.sample(groups, pids)
	for b.Loop() {
		ps.sample(groups, pids)
	}
}
