package main

import (
	"strings"
	"testing"
	"time"
)

// TestCtlStatusColors: in a terminal, `ctl status` colours the states
// (running green, import_failed red) unless NO_COLOR is set; through a
// pipe it never does (TestCtlStatusTable).
func TestCtlStatusColors(t *testing.T) {
	dir, r, _ := startCtlNode(t)
	defer stopRingsup(t, r)
	for _, noColor := range []string{"", "1"} {
		t.Setenv("NO_COLOR", noColor)
		ctl, screen := startRingsupOnTTY(t, dir, "ctl", "status")
		if x := waitExit(t, ctl.pid, 30*time.Second); x.Code != 0 {
			t.Fatalf("ctl status on a terminal: %v\n%s", x, ctl.output)
		}
		var out string
		eventually(t, 10*time.Second, "the table on the terminal", func() bool {
			out = screen.String()
			return strings.Contains(out, "quiet")
		})
		colored := strings.Contains(out, "\x1b[32mrunning\x1b[0m") && strings.Contains(out, "\x1b[31mimport_failed\x1b[0m")
		switch {
		case noColor == "" && !colored:
			t.Errorf("ctl status on a terminal is not coloured:\n%q", out)
		case noColor != "" && strings.Contains(out, "\x1b["):
			t.Errorf("ctl status with NO_COLOR is coloured:\n%q", out)
		}
	}
}
