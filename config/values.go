package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ParseDuration parses a duration in Go syntax, such as "500ms", "10s", "5m"
// or "1h30m". It rejects negative durations.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

// ParseSize parses a size in bytes: a non-negative integer followed by an
// optional unit, such as "100", "100B", "512KB", "10MB" or "1GB". Units are
// binary and ignore case: K, KB and KiB mean 1024 bytes, M, MB and MiB
// 1024*1024, G, GB and GiB 1024*1024*1024. Spaces may separate the number
// from the unit. Fractions ("1.5MB") and negative sizes are rejected, and so
// is a size of 8 EiB or more.
func ParseSize(s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("invalid size %q: %s", s, why)
	}
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return bad(`want an integer and an optional unit B, KB, MB or GB, such as "10MB"`)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return bad("too large")
	}
	if strings.HasPrefix(s[i:], ".") {
		return bad(`want a whole number, such as "1536KB"`)
	}
	var shift uint
	switch strings.ToUpper(strings.TrimLeft(s[i:], " ")) {
	case "", "B":
	case "K", "KB", "KIB":
		shift = 10
	case "M", "MB", "MIB":
		shift = 20
	case "G", "GB", "GIB":
		shift = 30
	default:
		return bad("unknown unit: want B, KB, MB or GB")
	}
	if n > math.MaxInt64>>shift {
		return bad("too large")
	}
	return n << shift, nil
}

// ParseSignal returns the signal named s, such as "SIGTERM". The "SIG"
// prefix is optional ("TERM") and case does not matter ("sigterm").
func ParseSignal(s string) (syscall.Signal, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// suggest returns ` (did you mean "x"?)` for the candidate x closest to
// word, or "" when none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	if c := closest(word, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// closest returns the candidate closest to word, ignoring case, if it is
// close enough to be a likely typo of word, and "" otherwise. Ties go to the
// earliest candidate.
func closest(word string, candidates []string) string {
	best, bestDist := "", -1
	w := strings.ToLower(word)
	for _, c := range candidates {
		d := levenshtein(w, strings.ToLower(c))
		if d <= 2 && d < len([]rune(word)) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// levenshtein returns the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// rlimits maps the names of resource limits, as the config writes them
// (RLIMIT_NOFILE is "nofile"), to their numbers.
func rlimits() map[string]int {
	return map[string]int{
		"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
		"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
		"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE,
		"nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC,
		"rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
		"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
	}
}

// RlimitByName returns the number of the resource limit name, such as
// "nofile" (unix.RLIMIT_NOFILE), and whether it exists.
func RlimitByName(name string) (int, bool) {
	n, ok := rlimits()[name]
	return n, ok
}

// RlimitNames returns the names of every resource limit, sorted.
func RlimitNames() []string {
	return slices.Sorted(maps.Keys(rlimits()))
}
