package main

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"time"
)

// quorumLost reports whether, by the schedule of faults, etcd may have
// had no leader at some time in [from, to] (checked every 100 ms): no two
// members both running (not killed, not stopped) with the link between
// them not frozen, or two members cut from each other while both reach
// the third. The second keeps a quorum on paper, but etcd 3.4 (no
// pre-vote) was seen without a leader for 10 s in that case: each of the
// two, not hearing the leader, campaigns at a higher term and unseats it.
// It does not know how long an election takes after quorum returns, nor
// how long a restarted member takes to catch up.
func quorumLost(faults []fault, from, to time.Time) bool {
	for t := from; !t.After(to); t = t.Add(100 * time.Millisecond) {
		var down [3]bool
		var cut [3][3]bool
		for _, f := range faults {
			if f.start.After(t) || (!f.end.IsZero() && f.end.Before(t)) {
				continue
			}
			m := members(f.target)
			switch f.kind {
			case "member-kill", "member-stop":
				for _, i := range m {
					down[i] = true
				}
			case "member-partition":
				for _, i := range m {
					for j := range 3 {
						cut[i][j], cut[j][i] = true, true
					}
				}
			case "member-partition-one":
				return true
			}
		}
		quorum := false
		for a := range 3 {
			for b := a + 1; b < 3; b++ {
				quorum = quorum || (!down[a] && !down[b] && !cut[a][b])
			}
		}
		if !quorum {
			return true
		}
	}
	return false
}

// members returns the member indexes of a target such as "m0+m2".
func members(target string) []int {
	var m []int
	for _, t := range strings.Split(target, "+") {
		if len(t) == 2 && t[0] == 'm' && t[1] >= '0' && t[1] <= '2' {
			m = append(m, int(t[1]-'0'))
		}
	}
	return m
}

// faultLine is a line of faults.log: "15:04:05.000 SECONDS fault KIND
// TARGET WHAT", where WHAT ends with "for 1.5s" for a fault that lasts.
var faultLine = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d\d\d) +\S+ fault (\S+) +(\S+) +(.*?)(?: for ([0-9.]+s))?$`)

// healedLine is the line of faults.log that ends a fault: "15:04:05.000
// SECONDS healed KIND TARGET".
var healedLine = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d\d\d) +\S+ healed (\S+) +(\S+)$`)

// readFaults reads faults.log, whose times are of the day of day (UTC).
// A fault ends at its "healed" line; in a log without them (before they
// were written), when its stated time is up, and a kill or SIGTERM of a
// node lasts no time.
func readFaults(r io.Reader, day time.Time) ([]fault, error) {
	var fs []fault
	day = day.UTC().Truncate(24 * time.Hour)
	at := func(s string) (time.Time, bool) {
		clock, err := time.Parse("15:04:05.000", s)
		return day.Add(clock.Sub(clock.Truncate(24 * time.Hour))), err == nil
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := healedLine.FindStringSubmatch(sc.Text()); m != nil {
			end, ok := at(m[1])
			for i := len(fs) - 1; i >= 0 && ok; i-- {
				if fs[i].kind == m[2] && fs[i].target == m[3] {
					fs[i].end = end
					break
				}
			}
			continue
		}
		m := faultLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		start, ok := at(m[1])
		if !ok {
			continue
		}
		f := fault{kind: m[2], target: m[3], what: m[4], start: start, end: start}
		if d, err := time.ParseDuration(m[5]); err == nil {
			f.what += " for " + m[5]
			f.end = start.Add(d)
		}
		fs = append(fs, f)
	}
	return fs, sc.Err()
}
