package procexec

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
)

// Reaper reaps every exited child on a goroutine of its own, at each
// SIGCHLD, and keeps the exits until [Reaper.Take] hands them over. It is
// for a stop of every process at once: reaping a child costs the kernel
// more than finding it (release_task frees the task and its /proc entries,
// 10-30 µs on a busy 2-core machine), and a caller that reaps only between
// other work, after it has signalled a thousand processes, say, reaps them
// one after the other once the last one is dead. The Reaper does it while
// the caller works and the others die.
//
// Exits are returned by Take, on the caller's goroutine, in the order
// reaped, so a caller that registers the PIDs it spawns before it calls
// Take still never sees the exit of a PID it does not know yet. Reaping
// is left to the Reaper alone: the caller does not walk the children
// (each wait4(-1) that finds nothing reads every child's task) at each of
// its turns.
type Reaper struct {
	notify func()
	sig    chan os.Signal
	stop   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	exits []Exit
	err   error
}

// StartReaper starts a Reaper. notify is called from the Reaper's
// goroutine each time it has reaped exits that Take has not returned.
func StartReaper(notify func()) *Reaper {
	r := &Reaper{
		notify: notify,
		sig:    make(chan os.Signal, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	signal.Notify(r.sig, syscall.SIGCHLD)
	r.sig <- syscall.SIGCHLD // a child may have exited before it listened
	go r.serve()
	return r
}

func (r *Reaper) serve() {
	defer close(r.done)
	for {
		select {
		case <-r.sig:
		case <-r.stop:
			return
		}
		exits, err := ReapUpTo(0)
		if len(exits) == 0 && err == nil {
			continue
		}
		r.mu.Lock()
		r.exits = append(r.exits, exits...)
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
		r.notify()
	}
}

// Take returns the exits the Reaper has reaped and Take has not yet
// returned, at most max of them (every one when max <= 0), oldest first,
// with the first error its wait4 met since the last Take. It does not
// reap: an exit not yet reaped is announced by notify once it is.
func (r *Reaper) Take(max int) ([]Exit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.exits)
	if max > 0 {
		n = min(n, max)
	}
	exits := slices.Clone(r.exits[:n])
	r.exits = r.exits[n:]
	err := r.err
	r.err = nil
	return exits, err
}

// Stop stops the Reaper's goroutine; exits it reaped and Take did not
// return are dropped. notify is not called once Stop has returned.
func (r *Reaper) Stop() {
	signal.Stop(r.sig)
	close(r.stop)
	<-r.done
}
