// Package guard is the singleton guard: a small process, ringsup's own
// binary in a hidden mode, that SIGKILLs the process group of a
// singleton's copy at the node lease's deadline D unless D was extended.
// It closes the gap a lease alone leaves: a frozen supervisor (SIGSTOP,
// a stalled machine's scheduler aside) cannot stop its copy, but its
// guard, another process, still does.
//
// The supervisor starts the guard through procexec with a pipe as its
// standard input, and writes one line per deadline: D in nanoseconds of
// CLOCK_BOOTTIME. A line "0" releases the guard (the copy is gone): it
// exits without killing. At end of input without a release the supervisor
// died (only it holds the pipe's write end), and the guard kills the
// group at once: a copy must not outlive its supervisor, and the
// processes the copy started would (Pdeathsig reaches only its leader).
// The guard itself clears the Pdeathsig procexec gave it, so that it
// outlives the supervisor for that.
package guard

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/internal/boottime"
)

// Arg is argv[1] of a guard.
const Arg = "__ringsup_guard__"

// tick is how often the guard reads the clock.
const tick = 20 * time.Millisecond

// Argv is the command that guards the process group pgid.
func Argv(pgid int) []string {
	return []string{"/proc/self/exe", Arg, strconv.Itoa(pgid)}
}

// Line is the line that gives the guard deadline d (CLOCK_BOOTTIME).
func Line(d time.Duration) string { return strconv.FormatInt(int64(d), 10) + "\n" }

// Release is the line that lets the guard exit without killing.
const Release = "0\n"

// MaybeRun must be called first in main. When the process is a guard it
// runs it and exits; otherwise it returns at once.
func MaybeRun() {
	if len(os.Args) < 3 || os.Args[1] != Arg {
		return
	}
	pgid, err := strconv.Atoi(os.Args[2])
	if err != nil || pgid <= 1 {
		fmt.Fprintf(os.Stderr, "ringsup guard: bad process group %q\n", os.Args[2])
		os.Exit(2)
	}
	// Outlive the supervisor, to kill the group when it dies.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
	os.Exit(run(os.Stdin, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }))
}

// run reads deadlines from in and calls kill once the clock passes the
// last one, or at once when in ends without a release; it returns 0 when
// released or after killing.
func run(in io.Reader, kill func()) int {
	type msg struct {
		d       time.Duration
		release bool
		eof     bool
	}
	msgs := make(chan msg, 16)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
			if err != nil {
				continue
			}
			msgs <- msg{d: time.Duration(n), release: n == 0}
		}
		msgs <- msg{eof: true}
	}()
	var deadline time.Duration // 0: none yet
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case m := <-msgs:
			switch {
			case m.release:
				return 0
			case m.eof:
				kill() // the supervisor is gone
				return 0
			default:
				deadline = m.d
			}
		case <-t.C:
		}
		if deadline != 0 && boottime.Now() >= deadline {
			kill()
			return 0
		}
	}
}
