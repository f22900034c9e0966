package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// A process that leaves its daemon's process group (setsid, setpgid) is out
// of reach of the group signals that stop the daemon. When its parent dies
// it is re-parented to the supervisor, the child subreaper, so it can still
// be found: leftovers are the supervisor's children that are neither a
// daemon, a probe nor a hook. Each is attributed to a daemon by the
// RINGSUP_DAEMON variable it inherited, shown in `ctl status`
// (`leftovers`), and killed with SIGKILL when its daemon is stopped for good
// and at shutdown. A process that also clears its environment, or whose
// parent is still alive, is not found.

// scanLeftovers refreshes every daemon's leftovers from the supervisor's
// children. It reads /proc: one file per thread of the supervisor, plus
// one per unknown child; daemons without leftovers are not visited.
func (s *Supervisor) scanLeftovers() {
	owners := make(map[*daemon]bool, len(s.leftoverOwners))
	for _, pid := range childPIDs() {
		if s.known(pid) {
			continue
		}
		if d, ok := s.daemons[daemonOf(pid)]; ok {
			if !owners[d] {
				owners[d] = true
				d.leftovers = d.leftovers[:0]
			}
			d.leftovers = append(d.leftovers, pid)
		}
	}
	for d := range s.leftoverOwners {
		if !owners[d] {
			d.leftovers = nil
		}
	}
	for d := range owners {
		slices.Sort(d.leftovers)
		if !s.leftoverOwners[d] {
			s.log.Warn("processes escaped their daemon's process group", "daemon", d.name, "pids", d.leftovers)
		}
	}
	s.leftoverOwners = owners
}

// known reports whether pid is a process the supervisor started (or a
// member of a daemon's group).
func (s *Supervisor) known(pid int) bool {
	if _, ok := s.byPID[pid]; ok {
		return true
	}
	if s.probes.owns(pid) {
		return true
	}
	if _, ok := s.hooks[pid]; ok {
		return true
	}
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		return true // gone already
	}
	_, inGroup := s.byPID[pgid]
	_, lingering := s.lingering[pgid]
	return inGroup || lingering
}

// leftoversAfterExits scans for leftovers and kills those of the daemons
// that are stopped for good.
func (s *Supervisor) leftoversAfterExits() {
	s.scanLeftovers()
	for d := range s.leftoverOwners {
		if d.rec.State == Stopped || d.removed {
			s.killLeftovers(d)
		}
	}
}

// killLeftovers kills d's leftovers; shutdown waits for them to be reaped.
func (s *Supervisor) killLeftovers(d *daemon) {
	for _, pid := range d.leftovers {
		err := syscall.Kill(pid, syscall.SIGKILL)
		switch {
		case err == nil:
			s.dying[pid] = struct{}{}
		case !errors.Is(err, syscall.ESRCH):
			s.log.Error("cannot kill leftover process", "daemon", d.name, "pid", pid, "error", err)
		}
	}
	d.leftovers = nil
	delete(s.leftoverOwners, d)
}

// childPIDs lists the children of the process's main thread: the
// processes re-parented to the supervisor. Linux hands an orphan to the
// first live thread of its subreaper, the main thread, which in Go lives as
// long as the process; the daemons, probes and hooks are children of the
// Spawner's thread instead, and reading their list, hundreds of pids
// walked by the kernel for each read, cost about a millisecond per scan
// with 500 daemons.
func childPIDs() []int {
	data, _ := os.ReadFile("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	var pids []int
	for field := range strings.FieldsSeq(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// daemonOf returns the RINGSUP_DAEMON of process pid's environment, or "".
func daemonOf(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if name, ok := bytes.CutPrefix(kv, []byte("RINGSUP_DAEMON=")); ok {
			return string(name)
		}
	}
	return ""
}
