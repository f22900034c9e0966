package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvFileReachesTheDaemon: env files in order, then env, then
// RINGSUP_DAEMON.
func TestEnvFileReachesTheDaemon(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "base.env"), "# base\nexport A=from-base\nB='quoted # kept'\nC=base\n")
	write(t, filepath.Join(dir, "local.env"), "C=local\n")
	write(t, filepath.Join(dir, "ringsup.toml"), `
[daemons.app]
command = "echo \"$A|$B|$C|$D|$RINGSUP_DAEMON\" > env.out; echo $$ > app.pid; exec sleep 1000"
env_file = ["base.env", "local.env"]
env = { D = "from-env" }
`)
	r := startRingsup(t, dir)
	t.Cleanup(func() { stopRingsup(t, r) })
	readPID(t, filepath.Join(dir, "app.pid"))
	got, _ := os.ReadFile(filepath.Join(dir, "env.out"))
	if want := "from-base|quoted # kept|local|from-env|app"; strings.TrimSpace(string(got)) != want {
		t.Errorf("daemon environment = %q, want %q", got, want)
	}
}

// TestBackoffJitterSpreadsDelays reads the restart delays of a crash-looping
// daemon from `ctl events`: with backoff_jitter they vary around the base.
func TestBackoffJitterSpreadsDelays(t *testing.T) {
	dir, r := runNode(t, `
[daemons.crasher]
command = "exit 1"
backoff_min = "100ms"
backoff_max = "100ms"
backoff_jitter = 0.5
max_restarts = 1000
`)
	ev := startCtl(t, dir, "events")
	defer func() {
		if t.Failed() {
			t.Logf("ctl events:\n%.3000s\nringsup:\n%.3000s", ev.stdout, r.output)
		}
	}()
	var delays []float64
	eventually(t, 20*time.Second, "8 restarts seen", func() bool {
		delays = delays[:0]
		for _, line := range strings.Split(ev.stdout.String(), "\n") {
			var e struct {
				Type   string  `json:"type"`
				DelayS float64 `json:"delay_s"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == "DAEMON_RESTARTING" {
				delays = append(delays, e.DelayS)
			}
		}
		return len(delays) >= 8
	})
	lo, hi := delays[0], delays[0]
	for _, d := range delays {
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 0.05 || hi > 0.15 || hi-lo < 0.005 {
		t.Errorf("delays %v: want spread within 0.1s ±50%%", delays)
	}
}

// TestReloadKindsThroughTheBinary: removed daemons stop and leave the
// status, a policy-only change keeps the pid, a profile membership change
// starts and stops daemons.
func TestReloadKindsThroughTheBinary(t *testing.T) {
	const before = `
[supervisor]
watch = false
default_profile = "main"
[profiles]
main = ["keep", "policy", "gone"]
[daemons.keep]
command = "echo $$ > keep.pid; exec sleep 1000"
[daemons.policy]
command = "echo $$ > policy.pid; exec sleep 1000"
max_restarts = 2
[daemons.gone]
command = "echo $$ > gone.pid; exec sleep 1000"
[daemons.joiner]
command = "echo $$ > joiner.pid; exec sleep 1000"
`
	dir, _ := runNode(t, before)
	pids := map[string]int{}
	for _, n := range []string{"keep", "policy", "gone"} {
		pids[n] = readPID(t, filepath.Join(dir, n+".pid"))
	}
	after := strings.NewReplacer(
		`main = ["keep", "policy", "gone"]`, `main = ["keep", "policy", "joiner"]`,
		"max_restarts = 2", "max_restarts = 9",
		"[daemons.gone]\ncommand = \"echo $$ > gone.pid; exec sleep 1000\"\n", "",
	).Replace(before)
	write(t, filepath.Join(dir, "ringsup.toml"), after)
	out := ctlOK(t, dir, "reload")
	if want := "added:     -\nremoved:   gone\nrestarted: -\nupdated:   policy\ngone: removed\n"; out != want {
		t.Errorf("ctl reload printed\n%s\nwant\n%s", out, want)
	}
	readPID(t, filepath.Join(dir, "joiner.pid"))
	eventually(t, 10*time.Second, "gone stops", func() bool { return processGone(pids["gone"]) })
	for _, n := range []string{"keep", "policy"} {
		if processGone(pids[n]) {
			t.Errorf("%s lost its process in the reload", n)
		}
	}
	st := ctlStatus(t, dir)
	daemons := st["daemons"].(map[string]any)
	if _, ok := daemons["gone"]; ok {
		t.Error("removed daemon still in ctl status")
	}
	if got := daemonField(st, "joiner", "state"); got != "running" {
		t.Errorf("joiner is %v, want running", got)
	}
}
