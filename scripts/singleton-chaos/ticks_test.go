package main

import (
	"strings"
	"testing"
	"time"
)

// at is a time the tick lines below name in milliseconds.
func at(ms int64) time.Time { return time.Unix(0, ms*int64(time.Millisecond)) }

// ticks renders "node fence pid ms" lines as a tick file (ns).
func ticks(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		f := strings.Fields(l)
		b.WriteString(strings.Join(f[:3], " ") + " " + f[3] + "000000\n")
	}
	return b.String()
}

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		file                          string
		overlaps, regressions, failed int
		failovers                     int
		step                          time.Duration
		gaps                          []time.Duration
	}{
		{
			name: "failover after a gap",
			file: ticks("n0 5 100 1000", "n0 5 100 1020", "n1 7 200 3020", "n1 7 200 3040"),
			// a gap of 2 s; one failover
			failovers: 1, gaps: []time.Duration{2 * time.Second},
		},
		{
			name: "restart on the same node is no failover",
			file: ticks("n0 5 100 1000", "n0 5 100 1020", "n0 5 101 1500", "n0 5 101 1520"),
			gaps: []time.Duration{480 * time.Millisecond},
			step: 20 * time.Millisecond,
		},
		{
			name:      "interleaved ticks of two copies overlap",
			file:      ticks("n0 5 100 1000", "n1 7 200 1010", "n0 5 100 1020", "n1 7 200 1030"),
			overlaps:  1,
			failovers: 1,
		},
		{
			name:      "a new copy whose first tick equals the old one's last overlaps",
			file:      ticks("n0 5 100 1000", "n0 5 100 1020", "n1 7 200 1020"),
			overlaps:  1,
			failovers: 1,
		},
		{
			name: "a short copy inside a long one overlaps, even after a later copy ended",
			file: ticks("n0 5 100 1000", "n1 7 200 1100", "n1 7 200 1120", "n0 5 100 1500", "n2 9 300 1600"),
			// n1 starts within n0's range; n2 after both
			overlaps: 1, failovers: 2, gaps: []time.Duration{100 * time.Millisecond},
			step: 500 * time.Millisecond,
		},
		{
			name:        "the fence must rise across nodes",
			file:        ticks("n0 7 100 1000", "n1 7 200 2000", "n2 3 300 3000"),
			regressions: 2, failovers: 2,
			gaps: []time.Duration{time.Second, time.Second},
		},
		{
			name: "lines that are not ticks are counted",
			file: ticks("n0 5 100 1000") + "garbage\nn0 x 100 5\n",
			// two unreadable lines
			failed: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copies, bad, err := readCopies(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if bad != tc.failed {
				t.Errorf("readCopies: %d unreadable lines, want %d", bad, tc.failed)
			}
			s := analyze(copies, at(0), copies[len(copies)-1].Last)
			if len(s.Overlaps) != tc.overlaps || len(s.FenceRegressions) != tc.regressions || s.Failovers != tc.failovers {
				t.Errorf("analyze: overlaps, fence regressions, failovers = %d, %d, %d; want %d, %d, %d",
					len(s.Overlaps), len(s.FenceRegressions), s.Failovers, tc.overlaps, tc.regressions, tc.failovers)
			}
			if tc.step != 0 && s.LongestStep != tc.step {
				t.Errorf("analyze: longest step %v, want %v", s.LongestStep, tc.step)
			}
			var gaps []time.Duration
			for _, g := range s.Gaps {
				gaps = append(gaps, g.Len())
			}
			if len(gaps) != len(tc.gaps) || (len(gaps) > 0 && !equal(gaps, tc.gaps)) {
				t.Errorf("analyze: gaps %v, want %v", gaps, tc.gaps)
			}
		})
	}
}

func equal(a, b []time.Duration) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAnalyzeWindow: failovers and gaps count only within the window, a
// gap still open at its end included; overlaps count everywhere.
func TestAnalyzeWindow(t *testing.T) {
	copies, _, err := readCopies(strings.NewReader(ticks(
		"n0 1 100 1000", "n1 2 200 2000", // before the window
		"n2 3 300 3000", "n2 3 300 4000", // in it
		"n0 4 400 9000", "n1 5 500 9050", "n0 4 400 9100", // after it, overlapping
	)))
	if err != nil {
		t.Fatal(err)
	}
	s := analyze(copies, at(2500), at(6000))
	if s.Failovers != 1 || len(s.Overlaps) != 1 {
		t.Errorf("analyze: failovers %d, overlaps %d; want 1, 1", s.Failovers, len(s.Overlaps))
	}
	if len(s.Gaps) != 2 || s.Gaps[0].Len() != time.Second || s.Gaps[1].Len() != 2*time.Second || s.Gaps[1].After.Node != "" {
		t.Errorf("analyze: gaps %+v; want 1s (n1 to n2) and 2s open at the end", s.Gaps)
	}
}
