package logfile

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/procexec"
)

// TestCaptureGrandchild captures a real process through procexec: a shell
// that prints a partial line and exits, leaving a background child holding
// its output pipe. The supervisor closes the Writer when the daemon exits;
// the child's later output still reaches the file, until the pipe closes.
func TestCaptureGrandchild(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "d.log")
	rec := &echoRecorder{}
	w := mustOpen(t, path, Options{Echo: rec, EchoPrefix: "d | "})
	sp := procexec.NewSpawner()
	defer sp.Close()
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)

	script := `(read x < "$1"; echo late) & printf 'early, no newline'`
	p, err := sp.Spawn(procexec.Spec{Argv: []string{"/bin/sh", "-c", script, "sh", fifo}, Output: w})
	if err != nil {
		t.Fatal(err)
	}
	if e := waitExit(t, p.PID, sigchld); !e.Success() {
		t.Fatalf("sh: %v", e)
	}
	// The exit can come before the output goroutine has read what sh
	// wrote: Close must come after, for the line to be ended by it.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if data, _ := os.ReadFile(path); string(data) == "early, no newline" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sh's output did not reach the file")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Let the grandchild go on: opening the fifo waits for its reader.
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.OutputDone():
	case <-time.After(time.Minute):
		t.Fatal("output not done a minute after the grandchild was released")
	}
	data, err := os.ReadFile(path)
	if want := "early, no newlinelate\n"; string(data) != want || err != nil {
		t.Errorf("ReadFile(%q) = %q, %v, want %q", path, data, err, want)
	}
	// Close ended the partial line in the echo; the late line came after.
	if got, want := rec.calls, []string{"d | early, no newline\n", "d | late\n"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("echo = %q, want %q", got, want)
	}
}
