package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// descriptorsNeeded is what the busiest process needs for n children: one
// a child (ringsup holds one output pipe a daemon, 1013 descriptors in all
// at N=1000; the harness holds one connection a child), a quarter more and
// 1024 to spare.
func descriptorsNeeded(n int) uint64 { return uint64(n + n/4 + 1024) }

// raiseLimits raises the harness's own descriptor limit, which every
// contender inherits, to what maxN children need: the soft limit to the
// hard one, and as root the hard one too when it is short (the usual 20,000
// or 1,048,576 hard limits are short at N=10,000 with pipes and logs). It
// says on w what it changed, and warns when the kernel's pid_max leaves
// little room for maxN children and their supervising processes (runit and
// s6 run one per child).
func raiseLimits(maxN int, w io.Writer) {
	need := descriptorsNeeded(maxN)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(w, "bench: cannot read the descriptor limit:", err)
		return
	}
	was := lim
	if lim.Max < need {
		lim.Max = need
		if open := readUint("/proc/sys/fs/nr_open"); open > 0 && lim.Max > open {
			lim.Max = open
		}
	}
	lim.Cur = lim.Max
	if lim == was {
		return
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		// Without CAP_SYS_RESOURCE the soft limit can still go up to the
		// hard one.
		fmt.Fprintf(w, "bench: cannot raise the hard descriptor limit from %d to %d: %v\n", was.Max, lim.Max, err)
		lim = syscall.Rlimit{Cur: was.Max, Max: was.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			lim = was
			fmt.Fprintln(w, "bench: cannot raise the descriptor limit:", err)
		}
	}
	if lim != was {
		fmt.Fprintf(w, "bench: descriptor limit raised from %d (hard %d) to %d (hard %d): N=%d needs about %d\n",
			was.Cur, was.Max, lim.Cur, lim.Max, maxN, need)
	}
	if lim.Cur < need {
		fmt.Fprintf(w, "bench: warning: %d descriptors may be too few for N=%d\n", lim.Cur, maxN)
	}
	if pidMax := readUint("/proc/sys/kernel/pid_max"); pidMax > 0 && pidMax < uint64(3*maxN) {
		fmt.Fprintf(w, "bench: warning: kernel.pid_max is %d; N=%d with one supervising process a child (runit, s6) needs over %d\n",
			pidMax, maxN, 2*maxN)
	}
}

func readUint(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v
}
