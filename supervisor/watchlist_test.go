package supervisor

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestWatchlistMatchesAWalk checks the watchlist's bitset and earliest
// deadline against a plain walk of the same positions, through random
// changes that cross word boundaries and move the earliest deadline.
func TestWatchlistMatchesAWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	for _, n := range []int{1, 63, 64, 65, 130, 500} {
		w := newWatchlist(n)
		due := make([]bool, n)
		for range 2000 {
			i := r.IntN(n)
			switch r.IntN(4) {
			case 0:
				w.setDue(i)
				due[i] = true
			case 1:
				w.clearDue(i)
				due[i] = false
			case 2:
				w.setDeadline(i, time.Time{})
			default:
				w.setDeadline(i, base.Add(time.Duration(r.IntN(1000))*time.Millisecond))
			}
			var want time.Time
			for _, dl := range w.deadlines {
				want = earliest(want, dl)
			}
			if got := w.earliestDeadline(); !got.Equal(want) {
				t.Fatalf("n=%d: earliest deadline %v, a walk finds %v", n, got, want)
			}
			now := base.Add(time.Duration(r.IntN(1100)) * time.Millisecond)
			var passed []int
			for i, dl := range w.deadlines {
				if !dl.IsZero() && !now.Before(dl) {
					passed = append(passed, i)
				}
			}
			if got := w.passedBy(now); !slices.Equal(got, passed) {
				t.Fatalf("n=%d: deadlines passed by %v at %v, a walk finds %v", n, now, got, passed)
			}
			j := r.IntN(n+2) - 1
			if got, want := w.nextDue(j), walkDue(due, j, 1); got != want {
				t.Fatalf("n=%d: nextDue(%d) = %d, a walk finds %d", n, j, got, want)
			}
			if got, want := w.prevDue(j), walkDue(due, j, -1); got != want {
				t.Fatalf("n=%d: prevDue(%d) = %d, a walk finds %d", n, j, got, want)
			}
		}
	}
}

// walkDue returns the first set position from i in direction dir, or -1.
func walkDue(due []bool, i, dir int) int {
	if dir > 0 {
		i = max(i, 0)
	} else {
		i = min(i, len(due)-1)
	}
	for ; i >= 0 && i < len(due); i += dir {
		if due[i] {
			return i
		}
	}
	return -1
}
