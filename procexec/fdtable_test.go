package procexec

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// reserveHelper is the "reserve" helper: see helpers.
func reserveHelper(args []string) int {
	n, _ := strconv.Atoi(args[0])
	if len(args) > 1 {
		limit, _ := strconv.ParseUint(args[1], 10, 64)
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Println(err)
			return 1
		}
		lim.Cur = limit
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	size, open := tableSize(), openDescriptors()
	err := ReserveDescriptors(n)
	fmt.Println(size, tableSize(), open, openDescriptors(), err)
	return 0
}

// tableSize returns the size of the process's descriptor table (FDSize in
// /proc/self/status), or -1.
func tableSize() int {
	data, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n
			}
		}
	}
	return -1
}

// openDescriptors counts the process's open descriptors, or -1.
func openDescriptors() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries) - 1 // the directory's own
}

// TestReserveDescriptors: the table grows in one step to hold what was
// reserved, cut to RLIMIT_NOFILE, and nothing is left open or closed.
// Each case runs in a process of its own, whose table starts small.
func TestReserveDescriptors(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		min, max int // the table's size after
	}{
		{[]string{"4096"}, 4096, 8192},
		{[]string{"1048576", "2048"}, 2048, 2048}, // cut to the limit
		{[]string{"10"}, 0, startTableSize},       // the table it starts with
	} {
		out := newOutput()
		spec := helperSpec(append([]string{"reserve"}, tt.args...)...)
		spec.Output = out
		p := start(t, testSpawner, spec)
		if e := waitProc(t, p); e.Code != 0 {
			t.Fatalf("reserve %v: %+v, output %q", tt.args, e, out.String())
		}
		waitDone(t, p)
		f := strings.Fields(out.String())
		if len(f) != 5 {
			t.Fatalf("reserve %v printed %q", tt.args, out.String())
		}
		before, _ := strconv.Atoi(f[0])
		after, _ := strconv.Atoi(f[1])
		if f[4] != "<nil>" || after < max(tt.min, before) || after > max(tt.max, before) || f[2] != f[3] {
			t.Errorf("ReserveDescriptors(%s) with RLIMIT_NOFILE %v: table %d -> %d, open %s -> %s, error %s; want a table of %d-%d, as many open, no error",
				tt.args[0], tt.args[1:], before, after, f[2], f[3], f[4], tt.min, tt.max)
		}
	}
}

// TestReserveDescriptorsKeepsAnOpenNumber: reserving up to a number that
// is in use neither closes nor replaces what is open there.
func TestReserveDescriptorsKeepsAnOpenNumber(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "open")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A number above the table a process starts with, so that the
	// reservation has to grow the table up to it.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 4*startTableSize)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var before unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		t.Fatal(err)
	}
	if err := ReserveDescriptors(fd + 1); err != nil {
		t.Fatalf("ReserveDescriptors(%d) = %v", fd+1, err)
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil || after.Ino != before.Ino || after.Dev != before.Dev {
		t.Errorf("descriptor %d after ReserveDescriptors(%d): %v, inode %d, want %d (the file open there)", fd, fd+1, err, after.Ino, before.Ino)
	}
}
