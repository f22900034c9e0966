package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/procexec"
)

// Runtime is what the supervisor needs from the operating system: start a
// process, signal its group, collect exits, and find the processes that
// escaped their group. The supervisor calls every
// method from its loop goroutine only, so Spawn and Reap never race: an exit
// cannot be reaped before the PID that Spawn returned is registered.
type Runtime interface {
	// Spawn starts a process as the leader of a new process group.
	// A *procexec.ExecError means the command cannot be executed.
	Spawn(spec procexec.Spec) (pid int, err error)
	// SpawnAll is Spawn for each spec, in order, at less cost.
	SpawnAll(specs []procexec.Spec) (pids []int, errs []error)
	// Signal sends sig to the process group pgid.
	Signal(pgid int, sig syscall.Signal) error
	// Kill sends sig to the one process pid; procexec.ErrNoProcess means
	// it is gone.
	Kill(pid int, sig syscall.Signal) error
	// Getpgid returns the process group of process pid.
	Getpgid(pid int) (int, error)
	// Children lists the processes re-parented to the supervisor: those
	// whose parent died, for the subreaper to reap.
	Children() []int
	// DaemonOf returns the RINGSUP_DAEMON variable of process pid's
	// environment, or "".
	DaemonOf(pid int) string
	// Exited receives a value (SIGCHLD) when some child may have exited.
	Exited() <-chan os.Signal
	// Reap collects the exits that are ready, without blocking: at most
	// max of them, or every one when max <= 0. With fewer than max, none
	// of the processes it started is left; the exit of an adopted orphan
	// may be left for a later call, which Exited announces (osRuntime:
	// within walkDelay).
	Reap(max int) ([]procexec.Exit, error)
	// AwaitOutput waits until the output of every process reaped so far
	// has been copied to its writer, or timeout has passed; it reports
	// whether it was.
	AwaitOutput(timeout time.Duration) bool
	// StopAll tells the runtime that every process is being stopped (the
	// shutdown begins), so that it reaps in the way that costs least when
	// hundreds exit together; Reap keeps its guarantees.
	StopAll()
	// Close releases the runtime; processes keep running.
	Close()
}

// osRuntime is the Runtime of real processes.
type osRuntime struct {
	spawner *procexec.Spawner
	sigchld chan os.Signal
	// watcher, if not nil, reaps the daemons, probes and hooks by their
	// pidfds, so that a restart does not wait for wait4's walk over
	// every child; SIGCHLD and the walk still catch the rest. StopAll
	// stops it and moves it to stopped, whose pidfds Close closes.
	watcher, stopped *procexec.Watcher
	walks            walkPolicy
	// outputs holds, by PID, the end of the output of each process
	// started and not yet reaped; draining, that of the processes reaped
	// whose output had not yet ended.
	outputs  map[int]<-chan struct{}
	draining []<-chan struct{}
}

// descriptorsPerProcess is what a daemon's process holds open in the
// supervisor: its pidfd, its output pipe and its log file; ownDescriptors
// is room for the supervisor's own (sockets, its log, the poller, the
// file watches).
const (
	descriptorsPerProcess = 3
	ownDescriptors        = 64
)

// newOSRuntime makes the process a child subreaper, so that orphaned
// grandchildren are reaped too, and starts listening for SIGCHLD. processes
// is how many daemons it may run: their descriptors are reserved.
func newOSRuntime(processes int) (*osRuntime, error) {
	// Room for the descriptors of the processes to come, made at once,
	// beside the start-up's first forks: see procexec.ReserveDescriptors.
	// It only saves time, so its error is dropped.
	go func() { _ = procexec.ReserveDescriptors(descriptorsPerProcess*processes + ownDescriptors) }()
	if err := procexec.SetSubreaper(); err != nil {
		return nil, fmt.Errorf("cannot become a subreaper: %w", err)
	}
	// Descriptors the supervisor inherited (from a shell, a CI runner)
	// must not leak into every daemon.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("cannot mark inherited descriptors close-on-exec: %w", err)
	}
	// One buffered slot coalesces a burst of SIGCHLD into one Reap.
	rt := &osRuntime{
		spawner: procexec.NewSpawner(),
		sigchld: make(chan os.Signal, 1),
		outputs: make(map[int]<-chan struct{}),
	}
	rt.walks.unwatched = make(map[int]struct{})
	// Without pidfds (Linux < 5.3) every reap walks, as it always did.
	if w, err := procexec.NewWatcher(rt.exited); err == nil {
		rt.watcher = w
		rt.walks.signals = make(chan os.Signal, 1)
		rt.walks.stop = make(chan struct{})
		rt.walks.due.Store(true) // a child may have exited before we listened
		signal.Notify(rt.walks.signals, syscall.SIGCHLD)
		go rt.walks.forward(rt.exited)
	} else {
		signal.Notify(rt.sigchld, syscall.SIGCHLD)
	}
	// A child may have exited before we listened.
	rt.sigchld <- syscall.SIGCHLD
	return rt, nil
}

// exited tells the loop that some child exited, as SIGCHLD does; a
// pending value already says so.
func (rt *osRuntime) exited() {
	select {
	case rt.sigchld <- syscall.SIGCHLD:
	default:
	}
}

// started records a process just started: the end of its output, and its
// pidfd with the watcher.
func (rt *osRuntime) started(p *procexec.Proc) {
	rt.outputs[p.PID] = p.OutputDone()
	if rt.watcher != nil && rt.watcher.Watch(p.PID) != nil {
		rt.walks.unwatched[p.PID] = struct{}{} // its exit is found by the walk
	}
}

func (rt *osRuntime) Spawn(spec procexec.Spec) (int, error) {
	p, err := rt.spawner.Spawn(spec)
	if err != nil {
		return 0, err
	}
	rt.started(p)
	return p.PID, nil
}

func (rt *osRuntime) SpawnAll(specs []procexec.Spec) ([]int, []error) {
	procs, errs := rt.spawner.SpawnAll(specs)
	pids := make([]int, len(procs))
	for i, p := range procs {
		if p != nil {
			pids[i] = p.PID
			rt.started(p)
		}
	}
	return pids, errs
}

func (rt *osRuntime) Signal(pgid int, sig syscall.Signal) error {
	return procexec.SignalGroup(pgid, sig)
}

func (rt *osRuntime) Kill(pid int, sig syscall.Signal) error {
	if pid < 2 {
		// kill(0) or kill(-1) would signal the supervisor's own group or
		// every process; init is never a leftover.
		return fmt.Errorf("cannot send %s to process %d: not a leftover", procexec.SignalName(sig), pid)
	}
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return procexec.ErrNoProcess
	}
	return err
}

func (rt *osRuntime) Getpgid(pid int) (int, error) { return syscall.Getpgid(pid) }

// Children lists the children of the process's main thread: the
// processes re-parented to the supervisor. Linux hands an orphan to the
// first live thread of its subreaper, the main thread, which in Go lives as
// long as the process; the daemons, probes and hooks are children of the
// Spawner's thread instead, and reading their list, hundreds of pids
// walked by the kernel for each read, cost about a millisecond per scan
// with 500 daemons.
func (rt *osRuntime) Children() []int {
	data, _ := os.ReadFile("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	var pids []int
	for field := range strings.FieldsSeq(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (rt *osRuntime) DaemonOf(pid int) string {
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

func (rt *osRuntime) Exited() <-chan os.Signal { return rt.sigchld }

func (rt *osRuntime) Reap(max int) ([]procexec.Exit, error) {
	var exits []procexec.Exit
	var err error
	if rt.watcher == nil {
		exits, err = procexec.ReapUpTo(max)
	} else {
		exits, err = rt.walks.reap(rt.watcher, max, rt.exited)
	}
	if len(exits) > 0 {
		rt.draining = slices.DeleteFunc(rt.draining, closed)
	}
	for _, x := range exits {
		if done, ok := rt.outputs[x.PID]; ok {
			delete(rt.outputs, x.PID)
			if !closed(done) {
				rt.draining = append(rt.draining, done)
			}
		}
	}
	return exits, err
}

func (rt *osRuntime) AwaitOutput(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, done := range rt.draining {
		select {
		case <-done:
		case <-deadline.C:
			return false
		}
	}
	rt.draining = nil
	return true
}

// closed reports whether done is closed.
func closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// StopAll stops the watcher, in one step: from then on every Reap walks,
// as it does without pidfds, and the pidfds are closed by Close, once the
// stop is over. A stop of 1000 daemons reaped by their pidfds wakes the Go
// poller, the watcher's goroutine and the loop for nearly every exit, and
// closes a pidfd registered with epoll at each; the walk reaps a burst of
// exits in one pass (docs/performance.md, B5).
func (rt *osRuntime) StopAll() {
	if rt.watcher == nil {
		return
	}
	rt.watcher.Stop()
	rt.watcher, rt.stopped = nil, rt.watcher
	rt.exited() // what it reported and was not reaped is left to the walk
}

func (rt *osRuntime) Close() {
	signal.Stop(rt.sigchld)
	if rt.walks.stop != nil {
		signal.Stop(rt.walks.signals)
		rt.walks.close()
	}
	for _, w := range []*procexec.Watcher{rt.watcher, rt.stopped} {
		if w != nil {
			w.Close()
		}
	}
	rt.spawner.Close()
}
