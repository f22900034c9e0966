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

// TestShutdownKillsAMemberFromAnotherTree: at the shutdown, a process
// that joined a daemon's group from another daemon's tree (setpgid), deaf
// to SIGTERM and without RINGSUP_DAEMON, dies with that group: it is not
// an orphan of the supervisor when the group's leader exits (its parent,
// the other daemon, still runs), and the group's SIGKILL reaches it all
// the same. ringsup exits cleanly and leaves nothing behind. (Written for
// a change, reverted, that spared the group SIGKILLs of a shutdown when
// the supervisor had no orphan.)
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

// TestShutdownKillsASiblingInTheGroup: a daemon's group member made with
// clone(CLONE_PARENT), as runc's nsexec does, is a child of ringsup itself
// (of the thread that started the daemon), never an orphan; the group's
// SIGKILL after the leader's exit at the shutdown must reach it. (From a
// review of the reverted change above, which it failed.)
func TestShutdownKillsASiblingInTheGroup(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ringsup.toml"), "[daemons.cp]\n"+testDaemonConfig("clone-parent"))
	r := startRingsup(t, dir, "--log-level", "debug")
	leader := readPID(t, filepath.Join(dir, "cp.pid"))
	sibling := readPID(t, filepath.Join(dir, "cp.sibling.pid"))
	t.Cleanup(func() { syscall.Kill(sibling, syscall.SIGKILL) })
	if ppid, pgid := procParents(sibling); ppid != r.pid || pgid != leader {
		t.Fatalf("sibling %d: parent %d, group %d; want ringsup %d, group %d", sibling, ppid, pgid, r.pid, leader)
	}
	syscall.Kill(r.pid, syscall.SIGTERM)
	r.wait(30 * time.Second)
	if !processGone(sibling) {
		t.Errorf("the member %d of cp's group outlived ringsup\n%s", sibling, r.output)
	}
}
