package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchesEndWhenShutdownBegins: the config file's watch and the env
// files' used to be closed only as ringsup exited, where the last close of
// an inotify instance waits for the kernel (an SRCU grace period). They
// now end as the shutdown begins: while a daemon still stops, ringsup (no
// thread of it) holds no inotify instance, a change of the config or an
// env file and a SIGHUP reload nothing, and the exit is clean.
func TestWatchesEndWhenShutdownBegins(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app.env"), "A=1\n")
	// slow stops only once the test creates "go".
	cfg := `
[supervisor]
watch = true

[daemons.slow]
command = "trap 'while [ ! -e go ]; do sleep 0.05; done; exit 0' TERM; echo $A $$ > slow.out; while :; do sleep 0.1; done"
env_file = ["app.env"]
stop_timeout = "1h"
`
	write(t, filepath.Join(dir, "ringsup.toml"), cfg)
	r := startRingsup(t, dir, "--log-level", "debug")
	exited := false
	t.Cleanup(func() { // on a failure: slow stops, nothing is left behind
		if !exited {
			syscall.Kill(r.pid, syscall.SIGTERM)
			write(t, filepath.Join(dir, "go"), "")
			r.wait(30 * time.Second)
		}
	})
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	eventually(t, 20*time.Second, "slow runs", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "slow.out"))
		return strings.HasSuffix(string(b), "\n")
	})
	if n := inotifyInstances(r.pid); n == 0 {
		t.Fatal("ringsup holds no inotify instance while it runs with watch = true: the test cannot see them end")
	}

	syscall.Kill(r.pid, syscall.SIGTERM)
	eventually(t, 20*time.Second, "ringsup's watches end while slow stops", func() bool {
		return inotifyInstances(r.pid) == 0
	})
	before := len(r.output.String())
	write(t, filepath.Join(dir, "app.env"), "A=2\n")
	write(t, filepath.Join(dir, "ringsup.toml"), cfg+"\n[daemons.added]\ncommand = \"exec sleep 1000\"\n")
	syscall.Kill(r.pid, syscall.SIGHUP)
	eventually(t, 20*time.Second, "the SIGHUP's reload is refused", func() bool {
		return strings.Contains(r.output.String()[before:], "cannot reload: shutting down")
	})
	if s := procState(r.pid); s == 0 || s == 'Z' {
		t.Fatalf("ringsup exited while slow was stopping:\n%s", r.output)
	}
	write(t, filepath.Join(dir, "go"), "")
	e := r.wait(30 * time.Second)
	exited = true
	if !e.Success() {
		t.Errorf("ringsup exit = %v, want success\n%s", e, r.output)
	}
	after := r.output.String()[before:]
	for _, bad := range []string{"event=CONFIG_RELOADED", "daemon=added", "env file changed"} {
		if strings.Contains(after, bad) {
			t.Errorf("during the shutdown the log has %q:\n%s", bad, after)
		}
	}
}

// inotifyInstances counts the inotify descriptors in every descriptor
// table of process pid: its threads' (a Spawner's have their own).
func inotifyInstances(pid int) int {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/fd/*", pid))
	n := 0
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && link == "anon_inode:inotify" {
			n++
		}
	}
	return n
}
