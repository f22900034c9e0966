package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/control"
)

// TestStaleSocketRace: several supervisors started at once on one stale
// socket used to be able to both remove it and both start their daemons;
// the lock beside the socket lets exactly one through, and every other
// exits 1 with one line, having started nothing.
func TestStaleSocketRace(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	cfg := `
[supervisor]
log_dir = "logs"
stop_timeout = "5s"

[daemons.solo]
command = "echo $PPID >> starts; exec sleep 1000"
`
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "ringsup.sock")
	// A socket left by a supervisor that died: nobody listens on it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()

	const n = 8
	procs := make([]*ringsupProc, n)
	for i := range procs {
		procs[i] = startRingsup(t, dir)
	}
	// Every loser exits by itself; the winner keeps running and listens.
	var winner *ringsupProc
	eventually(t, 60*time.Second, "all but one ringsup exit", func() bool {
		gone := 0
		for _, r := range procs {
			if processGone(r.pid) {
				gone++
			}
		}
		if gone == n {
			t.Fatal("every ringsup exited: none won the socket")
		}
		return gone == n-1
	})
	waitListeningSock(t, sock)
	for _, r := range procs {
		if processGone(r.pid) {
			x := waitExit(t, r.pid, 10*time.Second)
			out := r.output.String()
			if x.Code != 1 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ringsup: already running") {
				t.Errorf("losing ringsup: %v, output %q; want exit 1 and one line saying it is already running", x, out)
			}
			continue
		}
		if winner != nil {
			t.Fatalf("two supervisors run at once: pids %d and %d", winner.pid, r.pid)
		}
		winner = r
	}
	defer stopRingsup(t, winner)
	waitCtlState(t, dir, "solo", "running")
	var b []byte
	eventually(t, 10*time.Second, "solo wrote its start", func() bool {
		b, _ = os.ReadFile(filepath.Join(dir, "starts"))
		return strings.HasSuffix(string(b), "\n")
	})
	if got := strings.Fields(string(b)); len(got) != 1 {
		t.Errorf("the daemon was started by %d supervisors (%v), want 1", len(got), got)
	}
	pid, err := (&control.Client{Path: sock}).Ping(t.Context())
	if err != nil || pid != winner.pid {
		t.Errorf("Ping() = %d, %v; want the winner %d", pid, err, winner.pid)
	}
}

// waitListeningSock waits until something answers connections on sock.
func waitListeningSock(t *testing.T, sock string) {
	t.Helper()
	eventually(t, 30*time.Second, "a supervisor listens on "+sock, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
