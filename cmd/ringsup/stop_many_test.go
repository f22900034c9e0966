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

// TestStopOfManyKeepsLastWordsAndEvents: when ringsup stops many daemons
// at once on SIGTERM (their exits reaped by the walk once the watcher is
// stopped), every daemon's last line, written as it stops, is in its log
// by the time ringsup has exited, a connected `ctl events` gets every
// daemon's DAEMON_STOPPED, and ringsup exits 0 leaving nothing behind.
func TestStopOfManyKeepsLastWordsAndEvents(t *testing.T) {
	const n = 30
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[supervisor]\nlog_dir = \"logs\"\n\n")
	for i := range n {
		name := fmt.Sprintf("d%02d", i)
		// wait returns at once when the trapped SIGTERM arrives; the
		// sleep left in the group goes with the group's SIGKILL.
		fmt.Fprintf(&cfg, "[daemons.%s]\ncommand = \"trap 'echo last words of %s; exit 0' TERM; echo $$ > %s.pid; sleep 1000 & wait\"\n\n", name, name, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRingsup(t, dir)
	for i := range n {
		readPID(t, filepath.Join(dir, fmt.Sprintf("d%02d.pid", i)))
	}
	ev := startCtl(t, dir, "events")
	// The stream starts when ctl has subscribed, which we cannot see:
	// restart d00 until its events show up.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ev.stdout.String(), `"type":"DAEMON_STARTED"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no DAEMON_STARTED from ctl events:\n%s", ev.stdout)
		}
		os.Remove(filepath.Join(dir, "d00.pid"))
		ctlOK(t, dir, "restart", "d00")
		readPID(t, filepath.Join(dir, "d00.pid"))
	}

	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := waitExit(t, r.pid, 60*time.Second); x.Code != 0 {
		t.Fatalf("ringsup exit = %v, want 0\n%s", x, r.output)
	}
	for i := range n {
		name := fmt.Sprintf("d%02d", i)
		log, err := os.ReadFile(filepath.Join(dir, "logs", name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "last words of "+name+"\n") {
			t.Errorf("log of %s after ringsup exited = %q, want its last words", name, log)
		}
	}
	stdout, events := ctlEventsToTheEnd(t, ev)
	stopped := map[any]bool{}
	for _, e := range events {
		if e["type"] == "DAEMON_STOPPED" {
			stopped[e["daemon_type"]] = true
		}
	}
	for i := range n {
		if name := fmt.Sprintf("d%02d", i); !stopped[name] {
			t.Errorf("ctl events did not print DAEMON_STOPPED of %s:\n%s", name, stdout)
		}
	}
	checkNoChildren(t)
}
