package procexec

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Watcher learns which of the processes it watches have exited, by PID,
// from their pidfds, and reaps them without the walk over every child that
// wait4(-1) makes. That walk reads each child's kernel task, cold after a
// few idle milliseconds: with 500 children the first wait4 after SIGCHLD
// cost 100-250 µs, on the path from a daemon's death to its restart.
//
// Each watched process has a pidfd (pidfd_open) in an epoll instance, one
// shot each; a goroutine waits for that instance in the runtime's poller,
// notes the PIDs of the processes that became ready to reap and calls the
// notify function given to [NewWatcher]. [Watcher.Reap] then reaps those
// with wait4(PID), which the kernel serves without the walk.
//
// Watching is an optimisation, not a second source of truth: SIGCHLD still
// arrives for every exit and Reap still walks when asked for every exit, so
// a process that could not be watched (out of descriptors), an orphan
// adopted through [SetSubreaper] and a watched process whose report comes
// late are reaped as before, and the Watcher forgets them.
//
// Watch, Reap and Close are for one goroutine, the one that spawns and
// reaps (the supervisor loop); notify is called from the Watcher's own
// goroutine.
type Watcher struct {
	ep     int
	poll   *os.File // ep, waited for in the runtime's poller
	notify func()
	// pidfds holds the pidfd of each watched process not yet reaped, by
	// PID. Only the owning goroutine touches it.
	pidfds map[int]int
	// room is the lowest descriptor a pidfd may not have: half the
	// descriptor limit, the other half left to the pipes, logs and
	// sockets that the supervisor cannot do without.
	room  int
	mu    sync.Mutex
	ready []int // PIDs reported by the epoll instance, not yet reaped
	// stopped is set by Stop: no report is taken, and notify not called,
	// from then on. mu guards it.
	stopped bool
	// done is closed when the goroutine has ended; closed, when the epoll
	// instance has been closed, after Stop.
	done, closed chan struct{}
	// events is collect's buffer, the owning goroutine's.
	events [16]unix.EpollEvent
	// forgotten holds the pidfds of the processes reaped, to close.
	forgotten []int
	// zombies holds the processes whose exit ReapReported read without
	// releasing them (a reap of one exit), to release.
	zombies []int
}

// NewWatcher starts a Watcher; notify is called, from the Watcher's
// goroutine, each time watched processes have exited. It fails where the
// kernel has no pidfds (before Linux 5.3), and the caller reaps as before.
func NewWatcher(notify func()) (*Watcher, error) {
	w, rc, err := newWatcher(notify)
	if err != nil {
		return nil, err
	}
	go w.serve(rc)
	return w, nil
}

// newWatcher is NewWatcher without its goroutine, which serve(rc) is.
func newWatcher(notify func()) (*Watcher, syscall.RawConn, error) {
	// A process that cannot have a pidfd makes the Watcher useless.
	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err != nil {
		return nil, nil, fmt.Errorf("cannot watch processes: %w", err)
	} else {
		unix.Close(fd)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot watch processes: %w", err)
	}
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, nil, fmt.Errorf("cannot watch processes: %w", err)
	}
	w := &Watcher{ep: ep, poll: os.NewFile(uintptr(ep), "pidfds"), notify: notify,
		pidfds: make(map[int]int), room: 512, done: make(chan struct{}), closed: make(chan struct{})}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur/2 > uint64(w.room) {
		w.room = int(min(lim.Cur/2, 1<<30))
	}
	rc, err := w.poll.SyscallConn()
	if err != nil {
		w.poll.Close()
		return nil, nil, fmt.Errorf("cannot watch processes: %w", err)
	}
	return w, rc, nil
}

// collect takes the reports the epoll instance holds already, without
// waiting for the Watcher's goroutine to be woken and run: a SIGCHLD may
// bring the caller to Reap first, and without them Reap would walk. Each
// report is taken once (one shot), here or by that goroutine.
func (w *Watcher) collect() {
	for {
		n, err := unix.EpollWait(w.ep, w.events[:], 0)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return
		}
		w.mu.Lock()
		for _, ev := range w.events[:n] {
			w.ready = append(w.ready, int(ev.Fd))
		}
		w.mu.Unlock()
		if n < len(w.events) {
			return
		}
	}
}

// serve waits until watched processes exit and reports them, until Close.
func (w *Watcher) serve(rc interface {
	Read(func(uintptr) bool) error
}) {
	defer close(w.done)
	events := make([]unix.EpollEvent, 64)
	for {
		var pids []int
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.EpollWait(int(fd), events, 0)
				if err == unix.EINTR {
					continue
				}
				for _, ev := range events[:max(n, 0)] {
					pids = append(pids, int(ev.Fd))
				}
				return n > 0 // none: wait in the poller (Read calls back first)
			}
		})
		if len(pids) > 0 {
			// notify is called under mu, so that none is under way, or
			// comes, once Stop has set stopped.
			w.mu.Lock()
			if !w.stopped {
				w.ready = append(w.ready, pids...)
				w.notify()
			}
			w.mu.Unlock()
		}
		if err != nil {
			return // closed
		}
	}
}

// Watch starts watching pid, a child of the process not yet reaped. It
// fails without harm, its exit then reaped by the walk: when the process
// has used half its descriptor limit (a descriptor is the lowest free one,
// so its number tells how many are open), rather than take descriptors the
// pipes and logs need.
func (w *Watcher) Watch(pid int) error {
	w.closeForgotten()
	w.release()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("cannot watch process %d: %w", pid, err)
	}
	if fd >= w.room {
		unix.Close(fd)
		return fmt.Errorf("cannot watch process %d: half the descriptor limit is in use", pid)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(pid)}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("cannot watch process %d: %w", pid, err)
	}
	w.pidfds[pid] = fd
	return nil
}

// Reap is [ReapUpTo] that first reaps the watched processes reported
// exited ([Watcher.ReapReported]) and then walks ([Watcher.Walk]) for the
// rest: with max > 0 and as many reported, it does not walk at all.
func (w *Watcher) Reap(max int) ([]Exit, error) {
	exits := w.ReapReported(max)
	if max > 0 && len(exits) >= max {
		return exits, nil
	}
	rest := 0
	if max > 0 {
		rest = max - len(exits)
	}
	more, err := w.Walk(rest)
	return append(exits, more...), err
}

// ReapReported reaps the watched processes reported exited, at most max
// (every one when max <= 0), each by its PID, without walking the list of
// children, and forgets them. The reports still in the epoll instance
// count, whether or not the Watcher's goroutine has taken them yet.
//
// With max > 0 (a reap of one exit, the caller's restart on its way) it
// reads each exit without releasing the process (waitid with WNOWAIT):
// the release, where the kernel frees the task and drops its /proc
// entries (30-60 µs, more than the rest of the reap), waits for the next
// Watch (which comes after the restart's fork), reap of every exit, Walk,
// Stop or Close. Until then the PID is not reused and its process group
// still exists, as a zombie's.
func (w *Watcher) ReapReported(max int) []Exit {
	if max <= 0 {
		w.release()
	}
	w.mu.Lock()
	short := max <= 0 || len(w.ready) < max
	w.mu.Unlock()
	if short {
		w.collect()
	}
	w.mu.Lock()
	ready := w.ready
	w.ready = nil
	w.mu.Unlock()
	var exits []Exit
	for i, pid := range ready {
		if max > 0 && len(exits) >= max {
			w.mu.Lock()
			w.ready = append(ready[i:], w.ready...)
			w.mu.Unlock()
			break
		}
		if _, ok := w.pidfds[pid]; !ok {
			continue // reaped by a walk before its report came
		}
		reap := reapPID
		if max > 0 {
			reap = peekPID
		}
		e, ok, err := reap(pid)
		switch {
		case err != nil:
			w.forget(pid) // not our child any more: nothing to reap by it
		case ok:
			w.forget(pid)
			if max > 0 {
				w.zombies = append(w.zombies, pid)
			}
			exits = append(exits, e)
		default:
			// Ready but not exited (stopped, say): watch on.
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(pid)}
			unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, w.pidfds[pid], &ev)
		}
	}
	if max <= 0 {
		w.closeForgotten()
	}
	return exits
}

// Walk is [ReapUpTo]: it walks the list of children for exits, watched or
// not, and forgets the watched ones it reaps.
func (w *Watcher) Walk(max int) ([]Exit, error) {
	w.release() // their exits were returned once already
	exits, err := ReapUpTo(max)
	for _, e := range exits {
		w.forget(e.PID)
	}
	if max <= 0 {
		w.closeForgotten()
	}
	return exits, err
}

// reapPID reaps pid if it has exited: ok reports whether it had.
func reapPID(pid int) (e Exit, ok bool, err error) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return Exit{}, false, err
		case got != pid:
			return Exit{}, false, nil
		}
		e, ok := exitOf(pid, ws)
		return e, ok, nil
	}
}

// peekPID is reapPID that leaves pid unreaped, a zombie, for release.
func peekPID(pid int) (e Exit, ok bool, err error) {
	for {
		var info childInfo
		err := unix.Waitid(unix.P_PID, pid, info.siginfo(), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return Exit{}, false, err
		case info.pid() != pid:
			return Exit{}, false, nil // not exited (stopped, say)
		}
		e, ok := info.exit()
		return e, ok, nil
	}
}

// release reaps the processes whose exits ReapReported read and left.
func (w *Watcher) release() {
	for _, pid := range w.zombies {
		reapPID(pid)
	}
	w.zombies = w.zombies[:0]
}

// forget stops watching pid, once reaped. Its pidfd is closed by the next
// closeForgotten: a reap of one exit, the caller's restart on its way,
// leaves the close for later.
func (w *Watcher) forget(pid int) {
	if fd, ok := w.pidfds[pid]; ok {
		w.forgotten = append(w.forgotten, fd)
		delete(w.pidfds, pid)
	}
}

// closeForgotten closes the pidfds of the processes forgotten, which
// takes them out of the epoll instance. Watch, a Reap, ReapReported or
// Walk of every exit (max <= 0), and Close call it.
func (w *Watcher) closeForgotten() {
	for _, fd := range w.forgotten {
		unix.Close(fd)
	}
	w.forgotten = w.forgotten[:0]
}

// Watching reports how many processes are watched.
func (w *Watcher) Watching() int { return len(w.pidfds) }

// Stop stops reporting exits, in one step whatever the number watched,
// and drops the reports not yet reaped. The pidfds stay open until Close,
// and Watch, Reap, ReapReported and Walk are not to be called any more:
// the caller reaps by [ReapUpTo]. notify is not called once Stop has
// returned. For a stop of every process, where a pidfd's wake-up and close
// at each exit cost more than a walk for many exits at once.
//
// Stop does not wait for the epoll instance to close, so that an exit no
// longer wakes the Watcher: that close takes every pidfd still in it out
// (with 1000 watched, 2-4 ms of the kernel's and of the Watcher goroutine's
// wake-up), on a goroutine of its own, while the caller goes on to stop
// the processes. Close waits for it.
func (w *Watcher) Stop() {
	w.mu.Lock()
	stopped := w.stopped
	w.stopped, w.ready = true, nil
	w.mu.Unlock()
	if stopped {
		return
	}
	w.release() // the caller's walks would reap them again
	go func() {
		w.poll.Close()
		<-w.done
		close(w.closed)
	}()
}

// Close stops the Watcher (see [Watcher.Stop]) and closes its descriptors,
// once its goroutine has ended; the processes are not affected. notify is
// not called once Close has returned.
func (w *Watcher) Close() {
	w.Stop()
	<-w.closed
	for pid := range w.pidfds {
		w.forget(pid)
	}
	w.closeForgotten()
}
