package procexec

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
// takes them (RLIM_INFINITY for unlimited), and the name that errors give
// it, such as "nofile" (config.RlimitByName); "" gives its number.
type Rlimit struct {
	Cur, Max uint64
	Name     string
}

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
		name := l.Name
		if name == "" {
			name = strconv.Itoa(res)
		}
		limits = append(limits, fmt.Sprintf("%d=%d:%d:%s", res, l.Cur, l.Max, name))
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
			var name string
			if _, err := fmt.Sscanf(strings.Replace(l, ":", " ", 2), "%d=%d %d %s", &res, &cur, &max, &name); err != nil {
				return fmt.Errorf("trampoline: bad limit %q", l)
			}
			// syscall.Setrlimit (not x/sys): for RLIMIT_NOFILE it also
			// stops Go from restoring the limit it found at start-up when
			// it executes the command.
			if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: cur, Max: max}); err != nil {
				return &RlimitError{Name: name, Value: cur, Err: err}
			}
		}
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("cannot execute %q: %w", argv[0], err)
	}
	return nil
}
