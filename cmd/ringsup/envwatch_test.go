package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEnvFileChangeReloads: env files used to be read only at a reload
// asked for; a change of one now reloads like a change of the config: the
// daemon using it restarts with the new values, the others keep their
// process, and a malformed or missing file is a CONFIG_RELOAD_FAILED at its
// position that changes nothing.
func TestEnvFileChangeReloads(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	env := filepath.Join(dir, "app.env")
	write(t, env, "A=1\n")
	dir, r := runNodeIn(t, dir, `
[daemons.app]
command = "echo $A $$ > a.out; exec sleep 1000"
env_file = ["app.env"]

[daemons.steady]
command = "echo $$ > steady.pid; exec sleep 1000"
`)
	steady := readPID(t, filepath.Join(dir, "steady.pid"))
	// app writes "$A $$" in one write: its value of A and its pid.
	appNow := func() (a string, pid int) {
		b, _ := os.ReadFile(filepath.Join(dir, "a.out"))
		if f := strings.Fields(string(b)); len(f) == 2 && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(f[1])
			return f[0], pid
		}
		return "", 0
	}
	wantA := func(want string) int {
		t.Helper()
		var pid int
		eventually(t, 20*time.Second, "app runs with A="+want, func() bool {
			var a string
			a, pid = appNow()
			return a == want
		})
		return pid
	}
	first := wantA("1")

	write(t, env, "A=2\n")
	second := wantA("2")
	if second == first {
		t.Errorf("app kept pid %d after its env file changed", first)
	}

	failures := func() int { return strings.Count(r.output.String(), "event=CONFIG_RELOAD_FAILED") }
	for _, tc := range []struct {
		what   string
		break_ func()
		want   *regexp.Regexp
	}{
		{"malformed", func() { write(t, env, "no equals sign\n") },
			regexp.MustCompile(`ringsup\.toml:\d+:\d+: .*app\.env: line 1: want KEY=VALUE`)},
		{"missing", func() { os.Remove(env) },
			regexp.MustCompile(`ringsup\.toml:\d+:\d+: .*cannot read env file \\?"app\.env\\?": no such file or directory`)},
	} {
		before := failures()
		tc.break_()
		eventually(t, 20*time.Second, tc.what+" env file fails the reload", func() bool { return failures() > before })
		if !tc.want.MatchString(r.output.String()) {
			t.Errorf("%s env file: log does not match %s:\n%s", tc.what, tc.want, r.output)
		}
		if _, got := appNow(); got != second || processGone(second) {
			t.Errorf("%s env file: app pid %d -> %d, want it untouched", tc.what, second, got)
		}
	}
	write(t, env, "A=3\n")
	if third := wantA("3"); third == second {
		t.Errorf("app kept pid %d after its env file came back", second)
	}
	if got := readPID(t, filepath.Join(dir, "steady.pid")); got != steady || processGone(steady) {
		t.Errorf("steady pid %d -> %d: an env file it does not use restarted it", steady, got)
	}
}
