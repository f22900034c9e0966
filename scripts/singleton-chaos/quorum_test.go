package main

import (
	"strings"
	"testing"
	"time"
)

func TestQuorumLost(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	log := `05:00:00.000     1.0s fault member-stop          m0     SIGSTOP for 10s
05:00:02.000     3.0s fault member-partition-one m1+m2  peer traffic between them frozen for 5s
05:00:20.000    21.0s fault member-kill          m1     SIGKILL, down for 5s
05:00:21.000    22.0s fault member-partition     m2     peer traffic with both others frozen for 2.5s
05:00:30.000    31.0s fault node-kill            n1     SIGKILL ringsup 1234
05:00:30.500    31.5s fault member-partition-one m0+m1  peer traffic between them frozen for 1s
05:00:31.000    32.0s healed node-kill           n1
05:00:32.000    33.0s healed member-partition-one m0+m1
05:00:40.000    41.0s the singleton runs
`
	faults, err := readFaults(strings.NewReader(log), day.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(faults) != 6 || faults[0].end.Sub(faults[0].start) != 10*time.Second || faults[1].target != "m1+m2" ||
		faults[4].end.Sub(faults[4].start) != time.Second || faults[5].end.Sub(faults[5].start) != 1500*time.Millisecond {
		t.Fatalf("readFaults = %+v; want 6 faults, the first 10s long, the second on m1+m2, the last two ended by their healed lines after 1s and 1.5s", faults)
	}
	at := func(s float64) time.Time { return day.Add(5*time.Hour + time.Duration(s*float64(time.Second))) }
	for _, tc := range []struct {
		from, to float64
		lost     bool
	}{
		{0, 1.9, false},   // m0 stopped: m1 and m2 remain
		{0, 2.1, true},    // and m1, m2 cut from each other
		{7.2, 9.9, false}, // the cut healed
		{10.5, 12, false}, // m0 back: nothing
		{20, 20.9, false}, // m1 killed: m0, m2
		{20, 21.1, true},  // and m2 cut off
		{22, 23.4, true},  // m1 down, m2 cut off throughout
		{23.6, 29, false}, // m1 still down, m2 reconnected: m0, m2
		{30, 30.4, false}, // a node fault
		{30, 35, true},    // a cut between two members, although the third reaches both
		{32.1, 35, false}, // healed at 32, not at 31.5 + 1
	} {
		if got := quorumLost(faults, at(tc.from), at(tc.to)); got != tc.lost {
			t.Errorf("quorumLost(%v s, %v s) = %v, want %v", tc.from, tc.to, got, tc.lost)
		}
	}
}
