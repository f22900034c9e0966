package supervisor

import (
	"slices"

	"github.com/ringrift/ringsup/config"
)

// This file holds the types of the waiting forms of Start, Stop, Restart
// and SetProfile (waiting.go), which ctl's start, stop, restart and profile
// use unless --no-block: the operation, then a report of each daemon it
// names as the daemon settles. The loop checks the waiters at the end of
// each pass, when every daemon's state is final for that pass.

// Goal is what a waiting caller wants of a daemon.
type Goal int

const (
	// GoalUp: running (and ready), or for a oneshot, done.
	GoalUp Goal = iota
	// GoalDown: no process left and no stop pending: stopped (failed and
	// import_failed count, having no process either), or removed.
	GoalDown
	// GoalSteady: whichever state the daemon comes to rest in; reached
	// unless that is failed or import_failed. For a daemon a reload
	// added, which starts only if its profile runs it.
	GoalSteady
)

// Settled reports that a daemon reached its goal (OK) or gave up.
type Settled struct {
	// Daemon is the daemon's name.
	Daemon string `json:"daemon"`
	// State is where it settled, as ctl status shows it ("done" for a
	// completed oneshot, "removed" for a daemon a reload dropped).
	State string `json:"state"`
	// OK says whether that is its goal.
	OK bool `json:"ok"`
	// Error is its last error when it gave up.
	Error string `json:"error,omitempty"`
}

// Waiter reports the daemons of one waiting operation as they settle.
type Waiter struct {
	// ask asks the loop for the names not settled yet, forgetting the
	// waiter first with stop; false when the loop is gone (waiting.go).
	ask func(stop bool) ([]string, bool)
	// C receives one Settled per daemon, in the order they settle, and is
	// closed after the last one, or early when the supervisor stops.
	C <-chan Settled
	// Names are the daemons it waits for, sorted.
	Names   []string
	c       chan Settled
	pending map[string]Goal
}

// Pending returns the names not settled yet, sorted. Call it once C is
// closed or the caller stops waiting.
func (w *Waiter) Pending() []string {
	if names, ok := w.ask(false); ok {
		return names
	}
	// The loop is gone: what it left is final.
	return sortedKeys(w.pending)
}

// Stop forgets the waiter: C receives nothing more (and is not closed).
// Call it when giving up before C is closed.
func (w *Waiter) Stop() {
	w.ask(true)
}

func sortedKeys(m map[string]Goal) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.SortFunc(out, config.CompareNames) // w@2 before w@10
	return out
}

// waiterList are the waiting operations' reports, which the loop holds.
type waiterList []*Waiter

// remove forgets w.
func (l *waiterList) remove(w *Waiter) {
	*l = slices.DeleteFunc(*l, func(x *Waiter) bool { return x == w })
}

// check reports the daemons that have settled to their waiters, as
// settled says (for a name and its goal); the loop calls it at the end of
// each pass.
func (l *waiterList) check(settled func(name string, g Goal) (Settled, bool)) {
	if len(*l) == 0 {
		return
	}
	*l = slices.DeleteFunc(*l, func(w *Waiter) bool {
		for _, name := range sortedKeys(w.pending) {
			st, ok := settled(name, w.pending[name])
			if !ok {
				continue
			}
			st.Daemon = name
			delete(w.pending, name)
			w.c <- st // buffered for every name: never blocks
		}
		if len(w.pending) == 0 {
			close(w.c)
			return true
		}
		return false
	})
}

// closeAll closes every waiter's channel, when Run returns.
func (l *waiterList) closeAll() {
	for _, w := range *l {
		close(w.c)
	}
	*l = nil
}
