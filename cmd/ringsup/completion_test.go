package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// bashComplete runs `ringsup completion bash` in a bash subprocess, in dir,
// with COMP_WORDS set to "ringsup" and words, and returns COMPREPLY. The
// script calls `ringsup` from PATH: a wrapper that runs the test binary as
// ringsup.
func bashComplete(t *testing.T, dir string, words ...string) []string {
	t.Helper()
	bin := t.TempDir()
	write(t, filepath.Join(bin, "ringsup"), "#!/bin/sh\nRINGSUP_TEST_AS_MAIN=1 exec "+os.Args[0]+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "ringsup"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `source <(ringsup completion bash) || exit 3
COMP_WORDS=(ringsup "$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_ringsup
printf '%s\n' "${COMPREPLY[@]}"`
	out := &syncBuffer{}
	p, err := spawner().Spawn(procexec.Spec{
		Argv:   append([]string{"bash", "-c", script, "bash"}, words...),
		Dir:    dir,
		Env:    map[string]string{"PATH": bin + ":" + os.Getenv("PATH")},
		Output: out,
	})
	if err != nil {
		t.Fatalf("cannot run bash: %v", err)
	}
	if x := waitExit(t, p.PID, 30*time.Second); x.Code != 0 {
		t.Fatalf("bash completion of %q: %v\n%s", words, x, out)
	}
	<-p.OutputDone()
	return strings.Fields(out.String())
}

// TestBashCompletion: the script completes commands, flags, flag values,
// profile names from the config, and daemon names from the running
// supervisor (not from a config file changed since).
func TestBashCompletion(t *testing.T) {
	quickRaceExit(t)
	dir, _ := runNode(t, `
[supervisor]
watch = false

[events]
types = ["MODEL_PROMOTED", "MODEL_TRAINED"]

[profiles]
full = ["web", "worker"]
small = ["web"]

[daemons.web]
command = "exec sleep 1000"
[daemons.worker]
command = "exec sleep 1000"
`)
	waitCtlState(t, dir, "worker", "running")
	// The file changes; the running supervisor keeps its daemons.
	write(t, filepath.Join(dir, "ringsup.toml"), `
[supervisor]
watch = false

[events]
types = ["MODEL_PROMOTED", "MODEL_TRAINED"]

[profiles]
full = ["web", "other"]
tiny = ["web"]

[daemons.web]
command = "exec sleep 1000"
[daemons.other]
command = "exec sleep 1000"
`)
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{""}, "check completion ctl graph version"},
		{[]string{"c"}, "check completion ctl"},
		{[]string{"ctl", "st"}, "start status stop"},
		{[]string{"ctl", "restart", "--f"}, "--force"},
		{[]string{"ctl", "start", "--"}, "--help --no-block --timeout"},
		{[]string{"--log-format", ""}, "json text"},
		{[]string{"--profile", ""}, "full tiny"},
		{[]string{"ctl", "profile", ""}, "full tiny"},
		{[]string{"ctl", "start", ""}, "web worker"},
		{[]string{"ctl", "--config", "ringsup.toml", "logs", "w"}, "web worker"},
		{[]string{"ctl", "logs", "web", ""}, ""},
		{[]string{"completion", ""}, "bash fish zsh"},
		{[]string{"check", ""}, ""},
		{[]string{"ctl", "e"}, "emit events"},
		{[]string{"ctl", "emit", ""}, "MODEL_PROMOTED MODEL_TRAINED"},
		{[]string{"ctl", "emit", "MODEL_PROMOTED", ""}, ""},
		{[]string{"ctl", "emit", "--as", ""}, "web worker"},
		{[]string{"ctl", "events", "--type", "MODEL_"}, "MODEL_PROMOTED MODEL_TRAINED"},
		{[]string{"ctl", "events", "--type", "DAEMON_F"}, "DAEMON_FAILED"},
		{[]string{"ctl", "events", "--daemon", "w"}, "web worker"},
	} {
		if got := strings.Join(bashComplete(t, dir, tc.words...), " "); got != tc.want {
			t.Errorf("completion of ringsup %q = %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
	// Without a supervisor, ctl's daemon names come from the config.
	other := t.TempDir()
	copyFile(t, filepath.Join(dir, "ringsup.toml"), filepath.Join(other, "ringsup.toml"))
	if got := strings.Join(bashComplete(t, other, "ctl", "start", ""), " "); got != "other web" {
		t.Errorf("completion of ctl start with no supervisor = %q, want the config's daemons", got)
	}
}

// TestBashCompletionInstances: a daemon with instances is completed by its
// name, which stands for every instance, and by each instance's; ctl
// scale completes only the daemons with instances. From the running
// supervisor and, without one, from the config.
func TestBashCompletionInstances(t *testing.T) {
	quickRaceExit(t)
	const cfg = `
[supervisor]
watch = false

[daemons.web]
command = "exec sleep 1000"
[daemons.sp]
command = "exec sleep 1000"
instances = 2
`
	dir, _ := runNode(t, cfg)
	waitCtlState(t, dir, "sp@1", "running")
	other := t.TempDir()
	write(t, filepath.Join(other, "ringsup.toml"), cfg)
	for _, d := range []string{dir, other} {
		for _, tc := range []struct {
			words []string
			want  string
		}{
			{[]string{"ctl", "start", ""}, "sp sp@0 sp@1 web"},
			{[]string{"ctl", "scale", ""}, "sp"},
			{[]string{"ctl", "scale", "sp", ""}, ""},
		} {
			if got := strings.Join(bashComplete(t, d, tc.words...), " "); got != tc.want {
				t.Errorf("in %s: completion of ringsup %q = %q, want %q", d, strings.Join(tc.words, " "), got, tc.want)
			}
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, _, err := runCLI(t, "completion", shell)
		if err != nil || !strings.Contains(out, "ringsup __complete") {
			t.Errorf("completion %s = %q, %v", shell, out, err)
		}
	}
	if _, _, err := runCLI(t, "completion", "tcsh"); err == nil || !strings.Contains(err.Error(), "bash, zsh or fish") {
		t.Errorf("completion tcsh = %v, want an error naming the shells", err)
	}
}
