// Package testproc is the helper-process harness shared by the tests of
// procexec and health: the test binary impersonates the programs the tests
// start (the pattern of os/exec's exec_test.go), and an Output collects
// what they write so that a test can wait for a line. Only tests import it.
package testproc

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every wait of the tests.
const WaitTimeout = 20 * time.Second

// Helpers maps the name of a command the test binary can impersonate to
// its body, which returns the exit status.
type Helpers map[string]func(args []string) int

// RunIfHelper must be called first in TestMain. When the test binary was
// started as a helper (the variable env is "1"), it runs the helper that
// os.Args[1] names with the rest of the arguments and exits with its
// status; otherwise it returns.
func RunIfHelper(env string, helpers Helpers) {
	if os.Getenv(env) != "1" {
		return
	}
	args := os.Args[1:]
	h, ok := helpers[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", args[0])
		os.Exit(2)
	}
	os.Exit(h(args[1:]))
}

// Self returns the path of the test binary.
func Self() string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe
}

// Argv returns the argv that runs the helper command args.
func Argv(args ...string) []string { return append([]string{Self()}, args...) }

// Env returns the environment of a helper started with the variable env.
// A race-enabled helper that exits 0 would otherwise sleep a second in the
// race detector's exit hook.
func Env(env string) map[string]string {
	return map[string]string{env: "1", "GORACE": "atexit_sleep_ms=0"}
}

// Output is an io.Writer for a process's output that can be read while it
// is written, and waited on.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{}, 1)} }

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return o.buf.Write(p)
}

// String returns what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// WaitFor waits until the output matches re, at most WaitTimeout, and
// returns the submatches.
func (o *Output) WaitFor(t testing.TB, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(WaitTimeout)
	for {
		if m := rx.FindStringSubmatch(o.String()); m != nil {
			return m
		}
		select {
		case <-o.changed:
		case <-deadline:
			t.Fatalf("output %q does not match %q after %v", o.String(), re, WaitTimeout)
		}
	}
}
