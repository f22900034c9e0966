package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEscapedProcessIsShownAndKilled: a daemon's child that calls setsid
// leaves the process group, so stopping the group misses it. Once its
// parent is gone it is re-parented to ringsup, shown in ctl status as a
// leftover of its daemon, and killed when the daemon is stopped for good.
func TestEscapedProcessIsShownAndKilled(t *testing.T) {
	dir, r := runNode(t, `
[daemons.escaper]
command = "setsid sh -c 'echo $$ > escaped.pid; exec sleep 1000' & echo $$ > escaper.pid; wait"
backoff_min = "1h"
backoff_max = "1h"
`)
	defer func() {
		if t.Failed() {
			t.Logf("ringsup:\n%s", r.output)
		}
	}()
	leader := readPID(t, filepath.Join(dir, "escaper.pid"))
	escaped := readPID(t, filepath.Join(dir, "escaped.pid"))
	// A crash of the leader kills its group, which the escapee left.
	syscall.Kill(leader, syscall.SIGKILL)
	eventually(t, 10*time.Second, "the escapee is shown", func() bool {
		st := ctlStatus(t, dir, "escaper")
		return fmt.Sprint(daemonField(st, "escaper", "leftovers")) == fmt.Sprintf("[%d]", escaped)
	})
	if processGone(escaped) {
		t.Fatal("the escapee died with the group: the test shows nothing")
	}
	if out := ctlOK(t, dir, "status", "escaper"); !strings.Contains(out, fmt.Sprintf("escaped its group: pids %d", escaped)) {
		t.Errorf("status table does not show the escapee:\n%s", out)
	}
	ctlOK(t, dir, "stop", "escaper")
	eventually(t, 10*time.Second, "the escapee is killed", func() bool { return processGone(escaped) })
}
