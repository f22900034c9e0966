package procexec

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// startTableSize is the number of descriptors a process's table holds
// before it first grows.
const startTableSize = 64

// ReserveDescriptors grows the process's descriptor table, in one step, to
// hold at least n descriptors (at most RLIMIT_NOFILE's soft limit). The
// kernel grows a table by doubling it when a descriptor does not fit, and
// each growth of a table that threads share waits for an RCU grace period
// (5-15 ms on a busy machine) in the thread that opened the descriptor:
// a supervisor starting a thousand daemons, a pidfd and a pipe each, went
// through six of them, each holding up the reply to a fork. Reserved
// early, from a goroutine of its own, the one growth overlaps other work;
// a descriptor opened meanwhile waits only if it does not fit the table
// already there. It opens and closes two descriptors and closes nothing
// else; an error changes only how fast the table grows.
func ReserveDescriptors(n int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("cannot reserve descriptors: %w", err)
	}
	if uint64(n) > lim.Cur {
		n = int(lim.Cur)
	}
	if n <= startTableSize {
		return nil
	}
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot reserve descriptors: %w", err)
	}
	defer unix.Close(fd)
	// F_DUPFD takes the lowest free number from n-1 up, growing the table
	// to fit it; unlike dup2, it never closes a descriptor in use.
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, n-1)
	if err != nil {
		return fmt.Errorf("cannot reserve %d descriptors: %w", n, err)
	}
	return unix.Close(high)
}
