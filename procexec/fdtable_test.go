package procexec

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tableSize returns the size of the process's descriptor table (FDSize in
// /proc/self/status).
func tableSize(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/self/status")
	return 0
}

// openDescriptors counts the process's open descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries) - 1 // the directory's own
}

// TestReserveDescriptors: the table grows to hold what was reserved, and
// nothing is left open or closed.
func TestReserveDescriptors(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := tableSize(t) * 4
	if uint64(want) > lim.Cur {
		t.Skipf("RLIMIT_NOFILE %d is below the %d this test reserves", lim.Cur, want)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := openDescriptors(t)
	if err := ReserveDescriptors(want); err != nil {
		t.Fatalf("ReserveDescriptors(%d) = %v", want, err)
	}
	if got := tableSize(t); got < want {
		t.Errorf("table holds %d descriptors after ReserveDescriptors(%d)", got, want)
	}
	if got := openDescriptors(t); got != before {
		t.Errorf("%d descriptors open after ReserveDescriptors, %d before", got, before)
	}
	if _, err := f.Stat(); err != nil {
		t.Errorf("a file open before ReserveDescriptors: %v", err)
	}
	// More than the limit is cut to the limit, and less than the table
	// already holds changes nothing.
	if err := ReserveDescriptors(int(min(lim.Cur+1, 1<<30))); err != nil {
		t.Errorf("ReserveDescriptors(above RLIMIT_NOFILE) = %v", err)
	}
	if err := ReserveDescriptors(10); err != nil {
		t.Errorf("ReserveDescriptors(10) = %v", err)
	}
	if got := openDescriptors(t); got != before {
		t.Errorf("%d descriptors open after ReserveDescriptors, %d before", got, before)
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
