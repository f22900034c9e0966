package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLI runs the command line in-process and returns its output and error.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"ringsup"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCheckExample(t *testing.T) {
	out, errOut, err := runCLI(t, "check", "--config", "../../examples/ringsup.toml")
	if err != nil {
		t.Fatalf("check examples: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		"ok, 6 daemons",
		"start order (profile \"full\"):\n  1. event_router, prepare_data\n  2. flaky_uploader, selfplay\n  3. training\n  4. evaluator\n",
		"(pulls in prepare_data) [default]",
		"minimal:  selfplay (pulls in event_router)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, "check", "--config", "../../examples/ringsup.toml", "--profile", "minimal")
	if err != nil || !strings.Contains(out, "start order (profile \"minimal\"):\n  1. event_router\n  2. selfplay\nprofiles:") {
		t.Errorf("check --profile minimal = %v:\n%s", err, out)
	}
}

// TestCheckReportsEveryError runs check on broken configs: exit 1, and
// every error as FILE:LINE:COL: message, the same list config reports.
func TestCheckReportsEveryError(t *testing.T) {
	positioned := regexp.MustCompile(`^[^:]+\.toml:\d+:\d+: \S`)
	for _, name := range []string{"cycle", "unknown_key", "unknown_dep", "bad_duration", "many_errors"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "config", "testdata", name+".toml")
			_, errOut, err := runCLI(t, "check", "--config", path)
			if err == nil {
				t.Fatalf("check %s succeeded", name)
			}
			want, rerr := os.ReadFile(strings.TrimSuffix(path, ".toml") + ".err")
			if rerr != nil {
				t.Fatal(rerr)
			}
			wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
			gotLines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(gotLines) != len(wantLines) {
				t.Fatalf("check %s printed %d errors, want %d:\n%s", name, len(gotLines), len(wantLines), errOut)
			}
			for _, line := range gotLines {
				if !positioned.MatchString(line) {
					t.Errorf("error line %q is not FILE:LINE:COL: message", line)
				}
			}
		})
	}
}

func TestCheckCycleShowsThePath(t *testing.T) {
	_, errOut, _ := runCLI(t, "check", "--config", "../../config/testdata/cycle.toml")
	if !strings.Contains(errOut, "dependency cycle: a -> b -> c -> a") {
		t.Errorf("cycle error does not show the cycle:\n%s", errOut)
	}
}

func TestGraphDOT(t *testing.T) {
	out, _, err := runCLI(t, "graph", "--config", "../../examples/ringsup.toml", "--profile", "minimal")
	if err != nil {
		t.Fatal(err)
	}
	want := "digraph ringsup {\n  \"event_router\";\n  \"selfplay\";\n  \"selfplay\" -> \"event_router\";\n}\n"
	if out != want {
		t.Errorf("graph --profile minimal =\n%s\nwant\n%s", out, want)
	}
}

func TestOneClearLine(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", filepath.Join(dir, "nope.toml")}, "cannot read config"},
		{[]string{"check", "--config", "../../examples/ringsup.toml", "--profile", "x"}, `unknown profile "x" (have: full, minimal)`},
		{[]string{"--config", "../../examples/ringsup.toml", "--profile", "x"}, `unknown profile "x" (have: full, minimal)`},
		{[]string{"--log-level", "loud", "--config", "../../examples/ringsup.toml"}, "invalid --log-level"},
	} {
		_, _, err := runCLI(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ringsup %q = %v, want one line containing %q", tt.args, err, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCLI(t, "version")
	if err != nil || !strings.HasPrefix(out, "ringsup ") {
		t.Errorf("version = %q, %v", out, err)
	}
	// The release build used to say only "devel": a build from a checkout
	// now names its commit and date.
	for _, tc := range []struct {
		commit, date string
		dirty        bool
		want         string
	}{
		{"", "", false, "devel"},
		{"3223823aabbccddeeff00112233445566778899", "2026-12-07T03:10:00+01:00", false, "devel 3223823aabbc 2026-12-07T02:10:00Z"},
		{"3223823aabbccddeeff00112233445566778899", "2026-12-07T02:10:00Z", true, "devel 3223823aabbc+dirty 2026-12-07T02:10:00Z"},
		{"3223823", "", false, "devel 3223823"},
	} {
		if got := describeCommit(tc.commit, tc.date, tc.dirty); got != tc.want {
			t.Errorf("describeCommit(%q, %q, %v) = %q, want %q", tc.commit, tc.date, tc.dirty, got, tc.want)
		}
	}
}

func TestSecondSIGINTKillsAtOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := `
[daemons.stubborn]
command = "trap '' TERM INT; echo $$ > stubborn.pid; while :; do sleep 0.05; done"
stop_timeout = "1h"
`
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRingsup(t, dir)
	pid := readPID(t, filepath.Join(dir, "stubborn.pid"))
	syscall.Kill(r.pid, syscall.SIGINT)
	eventually(t, 10*time.Second, "a graceful shutdown begins", func() bool {
		return strings.Contains(r.output.String(), "shutting down")
	})
	if processGone(pid) {
		t.Fatal("stubborn died of the first SIGINT")
	}
	syscall.Kill(r.pid, syscall.SIGINT)
	x := r.wait(10 * time.Second)
	if !processGone(pid) {
		t.Errorf("stubborn survived the second SIGINT")
	}
	if x.Code != 1 || !strings.HasSuffix(r.output.String(), "ringsup: unclean shutdown: every daemon was killed at once\n") {
		t.Errorf("ringsup exit = %v, want 1 and the unclean shutdown\n%s", x, r.output)
	}
}
