package procexec

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RlimitError reports a resource limit the kernel refuses to set, as
// `cannot set rlimit nofile=1048576: operation not permitted`.
type RlimitError struct {
	// Name is the limit's name, as Rlimit.Name gives it.
	Name string
	// Value is the limit asked for (RLIM_INFINITY for unlimited).
	Value uint64
	// Err is why: syscall.EPERM or syscall.EINVAL.
	Err error
}

func (e *RlimitError) Error() string {
	v := strconv.FormatUint(e.Value, 10)
	if e.Value == unix.RLIM_INFINITY {
		v = "unlimited"
	}
	return fmt.Sprintf("cannot set rlimit %s=%s: %v", e.Name, v, e.Err)
}

func (e *RlimitError) Unwrap() error { return e.Err }

// capSysResource is CAP_SYS_RESOURCE's bit in /proc/self/status's CapEff.
const capSysResource = 24

// checkRlimits returns an *RlimitError for the first limit (by name) that
// setrlimit(2) would refuse in a child of this process that runs as uid
// (-1: the same as this process), by the kernel's rules: a soft limit above
// the hard one is EINVAL; raising a hard limit needs CAP_SYS_RESOURCE,
// which a child that switches to a uid other than 0 loses; nofile may not
// exceed fs.nr_open, whatever the capabilities. Refused limits are found
// here, before the process is started, so that they are reported as such
// instead of as the trampoline's exit status.
func checkRlimits(limits map[int]Rlimit, uid int) error {
	res := make([]int, 0, len(limits))
	for r := range limits {
		res = append(res, r)
	}
	name := func(r int) string {
		if n := limits[r].Name; n != "" {
			return n
		}
		return strconv.Itoa(r)
	}
	slices.SortFunc(res, func(a, b int) int { return strings.Compare(name(a), name(b)) })
	capable := hasCapability(capSysResource) && (uid < 0 || uid == 0)
	for _, r := range res {
		l := limits[r]
		fail := func(err error) error { return &RlimitError{Name: name(r), Value: l.Cur, Err: err} }
		if l.Cur > l.Max {
			return fail(syscall.EINVAL)
		}
		var now unix.Rlimit
		if err := unix.Getrlimit(r, &now); err != nil {
			return fail(err)
		}
		if l.Max > now.Max && !capable {
			return fail(syscall.EPERM)
		}
		if r == unix.RLIMIT_NOFILE {
			if max, ok := nrOpen(); ok && l.Max > max {
				return fail(syscall.EPERM)
			}
		}
	}
	return nil
}

// hasCapability reports whether capability bit is in this process's
// effective set.
func hasCapability(bit uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			caps, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			return err == nil && caps&(1<<bit) != 0
		}
	}
	return false
}

// nrOpen returns fs.nr_open, the ceiling of RLIMIT_NOFILE.
func nrOpen() (uint64, bool) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return n, err == nil
}
