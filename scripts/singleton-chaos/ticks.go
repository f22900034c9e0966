package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tickEvery is how often a copy of the singleton appends a tick.
const tickEvery = 20 * time.Millisecond

// tick is the singleton "trainer": it appends "node fence pid unix-ns" to
// path every tickEvery, the first at once, until it is killed. Each line
// is one write to a file opened with O_APPEND, so lines of two copies
// never mix.
func tick(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("%s %s %d ", os.Getenv("RINGSUP_NODE"), os.Getenv("RINGSUP_FENCE_TOKEN"), os.Getpid())
	t := time.NewTicker(tickEvery)
	for {
		if _, err := f.WriteString(prefix + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n"); err != nil {
			return err
		}
		<-t.C
	}
}

// copyRange is one copy of the singleton as its ticks show it: one
// process on one node.
type copyRange struct {
	Node        string
	Fence       int64
	PID         int
	First, Last time.Time
	Ticks       int
	// LongestStep is the longest time between two ticks in a row: the
	// copy ran, or was alive at least, without ticking for that long.
	LongestStep time.Duration
}

func (c copyRange) String() string {
	return fmt.Sprintf("%s pid %d fence %d [%s, %s]", c.Node, c.PID, c.Fence, stamp(c.First), stamp(c.Last))
}

func stamp(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// readCopies reads a tick file and returns its copies in the order of
// their first tick, and the number of lines it could not read.
func readCopies(r io.Reader) (copies []copyRange, bad int, err error) {
	type key struct {
		node string
		pid  int
	}
	byKey := make(map[key]int)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			bad++
			continue
		}
		fence, err1 := strconv.ParseInt(f[1], 10, 64)
		pid, err2 := strconv.Atoi(f[2])
		ns, err3 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			bad++
			continue
		}
		at := time.Unix(0, ns)
		k := key{f[0], pid}
		i, ok := byKey[k]
		if !ok {
			i = len(copies)
			byKey[k] = i
			copies = append(copies, copyRange{Node: f[0], Fence: fence, PID: pid, First: at, Last: at})
		}
		c := &copies[i]
		c.Ticks++
		if at.Before(c.First) {
			c.First = at
		}
		if at.After(c.Last) {
			c.LongestStep = max(c.LongestStep, at.Sub(c.Last))
			c.Last = at
		}
		if fence != c.Fence {
			bad++ // a copy's fence is in its environment: it cannot change
		}
	}
	slices.SortStableFunc(copies, func(a, b copyRange) int { return a.First.Compare(b.First) })
	return copies, bad, sc.Err()
}

// overlap is two copies whose tick ranges intersect: Later's first tick
// is not after Earlier's last.
type overlap struct{ Earlier, Later copyRange }

// gap is a time with no copy ticking, between Before's last tick (the
// latest of every copy before) and After's first; After is zero for a
// gap still open at the end of the window.
type gap struct {
	From, To      time.Time
	Before, After copyRange
}

func (g gap) Len() time.Duration { return g.To.Sub(g.From) }

// summary is what the ticks say about the singleton.
type summary struct {
	Copies int
	// Overlaps are every two copies that ran at once, over the whole
	// file: must be none.
	Overlaps []overlap
	// FenceRegressions are copies whose fence is lower than the copy's
	// before, or not higher on another node: RINGSUP_FENCE_TOKEN must
	// strictly increase across holders.
	FenceRegressions []overlap
	// Failovers counts the copies started within the window on another
	// node than the copy before.
	Failovers int
	// LongestStep is the longest time between two ticks of one copy,
	// the resolution of the overlap check: a copy alive that long after
	// its last tick would not be seen.
	LongestStep time.Duration
	// Gaps are the times with no copy ticking that end within the window
	// (or are still open at its end), in order.
	Gaps []gap
}

// analyze finds overlaps and fence regressions among copies (in the order
// of their first tick), and the failovers and gaps of the window [from, to].
func analyze(copies []copyRange, from, to time.Time) summary {
	s := summary{Copies: len(copies)}
	var latest copyRange // the copy with the latest last tick so far
	closed := false      // whether the window's end has been passed
	closeWindow := func() {
		if !closed && to.Sub(latest.Last) > 10*tickEvery {
			s.Gaps = append(s.Gaps, gap{From: latest.Last, To: to, Before: latest})
		}
		closed = true
	}
	for i, c := range copies {
		s.LongestStep = max(s.LongestStep, c.LongestStep)
		if i == 0 {
			latest = c
			continue
		}
		if c.First.After(to) {
			closeWindow()
		}
		prev := copies[i-1]
		inWindow := !c.First.Before(from) && !c.First.After(to)
		if !c.First.After(latest.Last) {
			s.Overlaps = append(s.Overlaps, overlap{latest, c})
		} else if inWindow {
			s.Gaps = append(s.Gaps, gap{From: latest.Last, To: c.First, Before: latest, After: c})
		}
		if c.Fence < prev.Fence || (c.Node != prev.Node && c.Fence <= prev.Fence) {
			s.FenceRegressions = append(s.FenceRegressions, overlap{prev, c})
		}
		if inWindow && c.Node != prev.Node {
			s.Failovers++
		}
		if c.Last.After(latest.Last) {
			latest = c
		}
	}
	if len(copies) > 0 {
		closeWindow()
	}
	return s
}

// longest returns the n longest gaps, longest first.
func (s summary) longest(n int) []gap {
	g := slices.Clone(s.Gaps)
	slices.SortStableFunc(g, func(a, b gap) int { return cmp.Compare(b.Len(), a.Len()) })
	return g[:min(n, len(g))]
}
