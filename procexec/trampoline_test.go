package procexec

import (
	"strings"
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

func TestRlimitFailureIsReported(t *testing.T) {
	out := newOutput()
	spec := Spec{Argv: []string{"/bin/true"}}
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	// A soft limit above the hard one is refused by the kernel.
	spec.Rlimits = map[int]Rlimit{unix.RLIMIT_NOFILE: {Cur: cur.Max + 1, Max: cur.Max, Name: "nofile"}}
	spec.Output = out
	p := start(t, testSpawner, spec)
	if e := waitProc(t, p); e.Code != 126 {
		t.Fatalf("exit = %v, want status 126", e)
	}
	<-p.OutputDone()
	if want := "cannot set nofile"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q does not say %q", out.String(), want)
	}
}
