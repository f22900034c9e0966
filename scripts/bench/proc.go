package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// exitInfo is how and when a process the harness started ended.
type exitInfo struct {
	status syscall.WaitStatus
	at     time.Time
}

// procs starts processes and is the only thing in the harness that waits
// for them. The harness is a child subreaper, so whatever a supervisor
// leaves behind is re-parented here and reaped (and can be killed by
// killAll); nothing else may call wait.
type procs struct {
	mu      sync.Mutex
	waiting map[int]chan exitInfo
	devnull *os.File
}

const prSetChildSubreaper = 36

// newProcs makes the harness a child subreaper and starts its reaper.
func newProcs() (*procs, error) {
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0); errno != 0 {
		return nil, fmt.Errorf("cannot become a child subreaper: %w", errno)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	p := &procs{waiting: map[int]chan exitInfo{}, devnull: devnull}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		for range sigs {
			p.reap()
		}
	}()
	return p, nil
}

func (p *procs) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 {
			return
		}
		if ch, ok := p.waiting[pid]; ok {
			ch <- exitInfo{status: ws, at: time.Now()}
			delete(p.waiting, pid)
		}
	}
}

// start runs argv in dir with env, standard input from /dev/null and
// standard output and error to out, as the leader of a new process group.
// The channel receives its exit.
func (p *procs) start(argv, env []string, dir string, out *os.File) (int, <-chan exitInfo, error) {
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{p.devnull.Fd(), out.Fd(), out.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	// Holding mu until the pid is registered: the reaper cannot see the
	// exit of a process it does not know yet.
	p.mu.Lock()
	defer p.mu.Unlock()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot start %s: %w", argv[0], err)
	}
	ch := make(chan exitInfo, 1)
	p.waiting[pid] = ch
	return pid, ch, nil
}

// run starts argv and waits for it, returning its wall time from just
// before the fork to its reaping.
func (p *procs) run(argv, env []string, dir string, out *os.File) (time.Duration, syscall.WaitStatus, error) {
	t0 := time.Now()
	_, exit, err := p.start(argv, env, dir, out)
	if err != nil {
		return 0, 0, err
	}
	e := <-exit
	return e.at.Sub(t0), e.status, nil
}

// killAll sends SIGKILL to every descendant of the harness and waits up to
// timeout until none is left.
func killAll(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	self := os.Getpid()
	for {
		left := descendants(procTable(), self)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot kill %d leftover processes: %v", len(left), left)
		}
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procTable maps every pid on the machine to its parent's, zombies
// excluded.
func procTable() map[int]int {
	ents, _ := os.ReadDir("/proc")
	table := make(map[int]int, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := statFields(pid)
		if !ok || state == "Z" {
			continue
		}
		table[pid] = ppid
	}
	return table
}

// statFields returns the state and parent pid from /proc/PID/stat.
func statFields(pid int) (string, int, bool) {
	f := statAfterComm(fmt.Sprintf("/proc/%d/stat", pid))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// statAfterComm returns the fields of a stat file after "(comm)": state is
// [0], ppid [1], utime [11], stime [12].
func statAfterComm(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

// descendants lists the processes below root in table.
func descendants(table map[int]int, root int) []int {
	kids := map[int][]int{}
	for pid, ppid := range table {
		kids[ppid] = append(kids[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, k := range kids[pid] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// cpuSample is the CPU used so far by a set of processes.
type cpuSample struct {
	ns     int64 // time on a CPU, from every thread's schedstat
	slices int64 // times a thread was put on a CPU: its wake-ups, roughly
	ticks  int64 // utime+stime in clock ticks, as a cross-check
}

// cpuOf sums the CPU use of pids (every thread of each).
func cpuOf(pids []int) cpuSample {
	var s cpuSample
	for _, pid := range pids {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			f := strings.Fields(string(data))
			if len(f) >= 3 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				sl, _ := strconv.ParseInt(f[2], 10, 64)
				s.ns += ns
				s.slices += sl
			}
		}
		if f := statAfterComm(fmt.Sprintf("/proc/%d/stat", pid)); len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			s.ticks += u + st
		}
	}
	return s
}

// pssOf sums the proportional set size of pids, in bytes, from
// /proc/PID/smaps_rollup.
func pssOf(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			return 0, err
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("cannot parse smaps_rollup of %d: %w", pid, err)
				}
				total += kb << 10
				break
			}
		}
	}
	return total, nil
}
