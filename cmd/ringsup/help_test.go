package main

import (
	"strings"
	"testing"
)

// TestHelpReadsWell: help text as a new user sees it used to cut a
// sentence (ctl shutdown), print two defaults for --echo, and over-indent
// the second USAGE line of ringsup --help, which did not name ctl.
func TestHelpReadsWell(t *testing.T) {
	out, _, err := runCLI(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	usage := out[strings.Index(out, "USAGE:\n")+len("USAGE:\n"):]
	lines := strings.SplitN(usage, "\n", 3)
	for _, l := range lines[:2] {
		if !strings.HasPrefix(l, "   ringsup ") {
			t.Errorf("USAGE line %q: want it indented by three spaces like the rest", l)
		}
	}
	if !strings.Contains(lines[1], "ctl") {
		t.Errorf("USAGE does not name ctl: %q", lines[1])
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Count(l, "(default:") > 1 {
			t.Errorf("help line with two defaults: %q", l)
		}
	}
	out, _, err = runCLI(t, "ctl", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "shutdown" && !strings.HasSuffix(l, "has exited") {
			t.Errorf("ctl shutdown's help line is cut: %q", l)
		}
	}
}
