package procexec

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Go's fork and exec cannot set resource limits or the umask in the child
// only: both are per process, and setting them in the supervisor around the
// fork would reach its other threads. A Spec with Rlimits or Umask is
// therefore started through a trampoline: the supervisor's own executable,
// run with trampolineArg, sets them and then executes the real command.
// The cost, one more exec, is paid only by the daemons that ask for it.

// trampolineArg is argv[1] of a trampoline.
const trampolineArg = "__ringsup_exec__"

// Rlimit is a resource limit: the soft and hard values, as setrlimit(2)
// takes them (RLIM_INFINITY for unlimited).
type Rlimit struct{ Cur, Max uint64 }

// MaybeTrampoline must be called first in main, and in TestMain of test
// binaries that spawn with Spec.Rlimits or Spec.Umask. When the process is
// a trampoline, it sets the limits and umask and executes the command,
// never returning (it exits 126 with a message on stderr if it cannot).
// Otherwise it returns at once.
func MaybeTrampoline() {
	if len(os.Args) < 2 || os.Args[1] != trampolineArg {
		return
	}
	if err := trampoline(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "ringsup: %v\n", err)
		os.Exit(126)
	}
}

// trampolineArgv returns the argv that makes the trampoline set spec's
// limits and umask, then execute path with spec.Argv.
func trampolineArgv(spec Spec, path string) []string {
	umask := "-"
	if spec.Umask != nil {
		umask = strconv.FormatUint(uint64(*spec.Umask), 8)
	}
	var limits []string
	for res, l := range spec.Rlimits {
		limits = append(limits, fmt.Sprintf("%d=%d:%d", res, l.Cur, l.Max))
	}
	sort.Strings(limits)
	argv := []string{spec.Argv[0], trampolineArg, umask, strings.Join(limits, ","), path}
	return append(argv, spec.Argv...)
}

// trampoline applies args as trampolineArgv wrote them and executes.
func trampoline(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("trampoline: bad arguments %q", args)
	}
	umask, limits, path, argv := args[0], args[1], args[2], args[3:]
	if umask != "-" {
		m, err := strconv.ParseUint(umask, 8, 32)
		if err != nil {
			return fmt.Errorf("trampoline: bad umask %q", umask)
		}
		syscall.Umask(int(m))
	}
	if limits != "" {
		for _, l := range strings.Split(limits, ",") {
			var res int
			var cur, max uint64
			if _, err := fmt.Sscanf(l, "%d=%d:%d", &res, &cur, &max); err != nil {
				return fmt.Errorf("trampoline: bad limit %q", l)
			}
			// syscall.Setrlimit (not x/sys): for RLIMIT_NOFILE it also
			// stops Go from restoring the limit it found at start-up when
			// it executes the command.
			if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: cur, Max: max}); err != nil {
				return &RlimitError{Name: RlimitName(res), Value: cur, Err: err}
			}
		}
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("cannot execute %q: %w", argv[0], err)
	}
	return nil
}

// rlimitNames maps the names of resource limits, as config writes them
// (RLIMIT_NOFILE is "nofile"), to their numbers.
func rlimitNames() map[string]int {
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
// "nofile", and whether it exists.
func RlimitByName(name string) (int, bool) {
	n, ok := rlimitNames()[name]
	return n, ok
}

// RlimitName returns the name of resource limit res, such as "nofile".
func RlimitName(res int) string {
	for name, n := range rlimitNames() {
		if n == res {
			return name
		}
	}
	return strconv.Itoa(res)
}

// RlimitNames returns the names of every resource limit, sorted.
func RlimitNames() []string {
	names := make([]string, 0, 16)
	for name := range rlimitNames() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
