package procexec

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRlimitsAndUmask(t *testing.T) {
	out := newOutput()
	// A shell, not a Go helper: Go raises its own RLIMIT_NOFILE at start.
	spec := Spec{Argv: []string{"/bin/sh", "-c", "echo nofile $(ulimit -Sn) $(ulimit -Hn) core $(ulimit -c) umask $(umask)"}}
	umask := uint32(0o027)
	spec.Umask = &umask
	spec.Rlimits = map[int]Rlimit{
		unix.RLIMIT_NOFILE: {Cur: 100, Max: 200},
		unix.RLIMIT_CORE:   {Cur: 0, Max: 0},
	}
	spec.Output = out
	p := start(t, testSpawner, spec)
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("print-limits: %v\n%s", e, out)
	}
	select {
	case <-p.OutputDone():
	case <-time.After(waitTimeout):
		t.Fatal("output not done")
	}
	if got, want := out.String(), "nofile 100 200 core 0 umask 0027\n"; got != want {
		t.Errorf("child printed %q, want %q", got, want)
	}
}

// TestRlimitRefusedIsReported: a limit the kernel refuses used to show only
// as the trampoline's exit 126; Spawn now refuses it with an ExecError that
// says which limit and why, before any process is started.
func TestRlimitRefusedIsReported(t *testing.T) {
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	nrOpen, ok := nrOpen()
	if !ok {
		t.Fatal("cannot read fs.nr_open")
	}
	raise := Spec{Argv: []string{"/bin/true"}, Rlimits: map[int]Rlimit{unix.RLIMIT_NOFILE: {Cur: cur.Max + 1, Max: cur.Max + 1, Name: "nofile"}}}
	if os.Geteuid() == 0 {
		raise.User = "nobody" // root keeps CAP_SYS_RESOURCE, nobody has not
	}
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"soft above hard", Spec{Argv: []string{"/bin/true"}, Rlimits: map[int]Rlimit{unix.RLIMIT_NOFILE: {Cur: cur.Max + 1, Max: cur.Max, Name: "nofile"}}},
			fmt.Sprintf("cannot set rlimit nofile=%d: invalid argument", cur.Max+1)},
		{"nofile above fs.nr_open", Spec{Argv: []string{"/bin/true"}, Rlimits: map[int]Rlimit{unix.RLIMIT_NOFILE: {Cur: nrOpen + 1, Max: nrOpen + 1, Name: "nofile"}}},
			fmt.Sprintf("cannot set rlimit nofile=%d: operation not permitted", nrOpen+1)},
		{"hard limit raised without CAP_SYS_RESOURCE", raise,
			fmt.Sprintf("cannot set rlimit nofile=%d: operation not permitted", cur.Max+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := testSpawner.Spawn(tc.spec)
			var ee *ExecError
			if !errors.As(err, &ee) || ee.Kind != ExecBadRlimit || err.Error() != tc.want {
				if p != nil {
					waitProc(t, p)
				}
				t.Fatalf("Spawn = %v, want ExecBadRlimit %q", err, tc.want)
			}
		})
	}
	// The kernel agrees with the first two (setrlimit fails: nothing here
	// changes).
	for _, l := range []syscall.Rlimit{{Cur: cur.Max + 1, Max: cur.Max}, {Cur: nrOpen + 1, Max: nrOpen + 1}} {
		if err := syscall.Setrlimit(unix.RLIMIT_NOFILE, &l); err == nil {
			t.Errorf("setrlimit(nofile, %v) succeeded", l)
		}
	}
}
