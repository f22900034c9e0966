package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownKillsAMemberFromAnotherTree: at the shutdown, the SIGKILL to
// what is left of a daemon's group after its leader's exit is spared when
// the supervisor has no orphan (supervisor/spare.go). A process that
// joined the group from another daemon's tree, deaf to SIGTERM and without
// RINGSUP_DAEMON, is not an orphan when the leader exits (its parent, the
// other daemon, still runs), so the group's SIGKILL is spared then; once
// every daemon is down it is an orphan, and the spared SIGKILL goes out.
// ringsup exits cleanly and leaves nothing behind.
func TestShutdownKillsAMemberFromAnotherTree(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	// target is stopped first (it depends on joiner), while joiner,
	// the parent of the process in target's group, still runs.
	cfg := fmt.Sprintf(`[daemons.joiner]
command = [%q]
env = { RINGSUP_TEST_DAEMON = "join-group", JOIN_GROUP_OF = "target" }

[daemons.target]
command = [%q]
env = { RINGSUP_TEST_DAEMON = "sleep" }
depends_on = ["joiner"]
`, os.Args[0], os.Args[0])
	write(t, filepath.Join(dir, "ringsup.toml"), cfg)
	r := startRingsup(t, dir, "--log-level", "debug")
	target := readPID(t, filepath.Join(dir, "target.pid"))
	joined := readPID(t, filepath.Join(dir, "joiner.joined.pid"))
	t.Cleanup(func() { syscall.Kill(joined, syscall.SIGKILL) })
	if _, pgid := procParents(joined); pgid != target {
		t.Fatalf("the joining process %d is in group %d, want target's %d", joined, pgid, target)
	}

	syscall.Kill(r.pid, syscall.SIGTERM)
	x := r.wait(30 * time.Second) // fails the test if anything is left
	if !x.Success() {
		t.Errorf("ringsup exited %v, want a clean exit\n%s", x, r.output)
	}
	if !processGone(joined) {
		t.Errorf("the process that joined target's group (%d) outlived ringsup", joined)
	}
}

// waitPIDFile waits for a daemon's pid file and returns the pid; the test
// daemons use it (no testing.T there), for at most ten seconds.
func waitPIDFile(file string) int {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
	}
	return 0
}
