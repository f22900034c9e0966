package supervisor

// This file keeps what the loop looks at in every pass small: which
// daemons may have a start or a stop to schedule, and the daemons'
// deadlines in a heap. A pass then finds the daemons that need it in a
// bitset and the deadline to arm at the heap's top, instead of walking every
// daemon's record, which cost the loop a few hundred microseconds a pass
// with 500 daemons once the loop had slept and its data had left the
// caches (docs/performance.md). Nothing here decides anything: schedule,
// armTimer and fireDeadlines still read each daemon's record and feed step
// as they did.

import (
	"container/heap"
	"math/bits"
	"slices"
	"time"
)

// watchlist mirrors, by position in Supervisor.order, what the loop's
// walks test first. It holds for every daemon in the order:
//   - the bit of order[i] in due is set whenever order[i] awaits
//     scheduling (it may be set when it does not: schedule clears it then);
//   - deadlines[i] is order[i].deadline(), and soonest holds the
//     positions whose deadline is set, earliest first.
//
// Both hold because a daemon's record and health change only in apply,
// feedHealth, unplace and replace, which call touch, and the order only in
// install and forgetRemoved, which call reindex.
type watchlist struct {
	due       []uint64
	deadlines []time.Time
	soonest   deadlineHeap
	// removed counts the daemons a reload removed that are still in
	// the order (forgetRemoved).
	removed int
}

// awaitsSchedule reports whether schedule has something to decide for d:
// a stop that waits for its dependents, or a start that waits for its
// dependencies.
func (d *daemon) awaitsSchedule() bool {
	return d.rec.StopDue || (d.rec.State == Starting && d.rec.PID == 0)
}

// touch brings d's entries up to date after its record or health changed.
// A daemon no longer in the order (forgotten) has none.
func (s *Supervisor) touch(d *daemon) {
	if d.pos >= len(s.order) || s.order[d.pos] != d {
		return
	}
	if d.awaitsSchedule() {
		s.watch.setDue(d.pos)
	}
	s.watch.setDeadline(d.pos, d.deadline())
}

// newWatchlist returns an empty watchlist of n positions: none due, no
// deadline.
func newWatchlist(n int) watchlist {
	w := watchlist{due: make([]uint64, (n+63)/64), deadlines: make([]time.Time, n)}
	w.soonest = deadlineHeap{deadlines: w.deadlines, at: make([]int, n)}
	for i := range w.soonest.at {
		w.soonest.at[i] = -1
	}
	return w
}

// reindex numbers the daemons in their order and rebuilds the watchlist
// from their records, every daemon due.
func (s *Supervisor) reindex() {
	s.watch = newWatchlist(len(s.order))
	w := &s.watch
	for i, d := range s.order {
		d.pos = i
		w.setDue(i)
		w.setDeadline(i, d.deadline())
		if d.removed {
			w.removed++
		}
	}
}

func (w *watchlist) setDue(i int)   { w.due[i/64] |= 1 << (i % 64) }
func (w *watchlist) clearDue(i int) { w.due[i/64] &^= 1 << (i % 64) }

// nextDue returns the first position at or after i whose bit is set, or
// -1. It reads the bitset as it is now, so a walk sees the bits set by
// what it applied to daemons before.
func (w *watchlist) nextDue(i int) int {
	if i < 0 {
		i = 0
	}
	for wi := i / 64; wi < len(w.due); wi++ {
		word := w.due[wi]
		if wi == i/64 {
			word &= ^uint64(0) << (i % 64)
		}
		if word != 0 {
			return wi*64 + bits.TrailingZeros64(word)
		}
	}
	return -1
}

// prevDue returns the last position at or before i whose bit is set, or
// -1.
func (w *watchlist) prevDue(i int) int {
	if i >= len(w.due)*64 {
		i = len(w.due)*64 - 1
	}
	for wi := i / 64; wi >= 0 && i >= 0; wi-- {
		word := w.due[wi]
		if wi == i/64 {
			word &= ^uint64(0) >> (63 - i%64)
		}
		if word != 0 {
			return wi*64 + 63 - bits.LeadingZeros64(word)
		}
	}
	return -1
}

// setDeadline records dl as the deadline at position i.
func (w *watchlist) setDeadline(i int, dl time.Time) {
	h := &w.soonest
	w.deadlines[i] = dl
	switch at := h.at[i]; {
	case at >= 0 && dl.IsZero():
		heap.Remove(h, at)
	case at >= 0:
		heap.Fix(h, at)
	case !dl.IsZero():
		heap.Push(h, i)
	}
}

// earliestDeadline returns the earliest deadline of any daemon, or zero.
func (w *watchlist) earliestDeadline() time.Time {
	if len(w.soonest.pos) == 0 {
		return time.Time{}
	}
	return w.deadlines[w.soonest.pos[0]]
}

// passedBy returns, in order, the positions whose deadline is at or
// before now. It looks at the heap's top and at the children of each
// position found, no further: a child's deadline is never earlier.
func (w *watchlist) passedBy(now time.Time) []int {
	h := &w.soonest
	var passed []int
	for stack := []int{0}; len(stack) > 0; {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if k >= len(h.pos) || now.Before(w.deadlines[h.pos[k]]) {
			continue
		}
		passed = append(passed, h.pos[k])
		stack = append(stack, 2*k+1, 2*k+2)
	}
	slices.Sort(passed)
	return passed
}

// deadlineHeap is a heap (container/heap) of positions by their deadline,
// which knows where each position is in it.
type deadlineHeap struct {
	pos       []int
	deadlines []time.Time // by position
	at        []int       // by position: its index in pos, or -1
}

func (h *deadlineHeap) Len() int { return len(h.pos) }
func (h *deadlineHeap) Less(i, j int) bool {
	return h.deadlines[h.pos[i]].Before(h.deadlines[h.pos[j]])
}
func (h *deadlineHeap) Swap(i, j int) {
	h.pos[i], h.pos[j] = h.pos[j], h.pos[i]
	h.at[h.pos[i]], h.at[h.pos[j]] = i, j
}
func (h *deadlineHeap) Push(x any) {
	p := x.(int)
	h.at[p] = len(h.pos)
	h.pos = append(h.pos, p)
}
func (h *deadlineHeap) Pop() any {
	p := h.pos[len(h.pos)-1]
	h.pos = h.pos[:len(h.pos)-1]
	h.at[p] = -1
	return p
}
